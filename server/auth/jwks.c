/*
 * The JWKS cache: one source per trusted issuer, each holding its current
 * key set, and one background thread that fetches them.
 *
 * Everything mutable sits under one mutex.  The thread is the only one
 * that fetches, always with the mutex released; a request that needs a
 * fetch (unknown kid) sets want_fetch, wakes the thread and waits on
 * "done" until the source's fetch generation moves on, bounded by the
 * fetch timeouts.  Requests whose kid is cached never touch that path.
 * The refetch limit (last_kid_fetch_ms) is per source and is taken before
 * waiting, so a flood of unknown kids costs at most one fetch per
 * JWKS_REFETCH_MIN_MS.
 *
 * Persistence uses its own mutex (store_lock), so detaching the store
 * waits for a write in progress without holding up lookups.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "auth/jwk.h"
#include "auth/jwks.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"

/* First retry after a failed fetch; doubles up to the maximum. */
#define JWKS_RETRY_MIN_MS 10000
#define JWKS_RETRY_MAX_MS 300000

struct jwks_source {
    char *issuer;
    char *uri; /* configured jwks_uri, or NULL to discover */
    int allow_http;
    struct jwk_set *set;       /* NULL until one is fetched or loaded */
    int64_t next_ms;           /* next scheduled fetch (0: at once) */
    int64_t last_kid_fetch_ms; /* last fetch asked for by a request */
    int64_t retry_ms;          /* current back-off after failures */
    int want;                  /* a request asked for a fetch */
    int fetching;
    uint64_t gen;            /* completed fetch attempts */
    char error[ERR_MSG_MAX]; /* why the last fetch failed, or "" */
};

struct jwks {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread: work or stop */
    pthread_cond_t done; /* requests: a fetch finished */
    pthread_t thread;
    int started;
    int stopping;
    struct jwks_source *src;
    size_t n;
    pthread_mutex_t store_lock;
    struct store *store;
};

int
jwks_create(struct jwks **out, size_t n, struct err *err)
{
    struct jwks *j = calloc(1, sizeof *j);

    if (j == NULL || (j->src = calloc(n, sizeof *j->src)) == NULL) {
        free(j);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    j->n = n;
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->store_lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->done, &ca);
    pthread_condattr_destroy(&ca);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    *out = j;
    return 0;
}

int
jwks_set_source(struct jwks *j, size_t i, const char *issuer,
                const char *jwks_uri, int allow_http, struct err *err)
{
    struct jwks_source *s = &j->src[i];

    s->issuer = strdup(issuer);
    s->uri = jwks_uri ? strdup(jwks_uri) : NULL;
    s->allow_http = allow_http;
    s->retry_ms = JWKS_RETRY_MIN_MS;
    /* Fetched when first needed (or on schedule once loaded). */
    s->next_ms = INT64_MAX;
    if (s->issuer == NULL || (jwks_uri && s->uri == NULL))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

/* Load source i's persisted set when it has none yet. */
static void
jwks_load_one(struct jwks *j, struct store *st, size_t i)
{
    struct jwks_source *s = &j->src[i];
    struct jwk_set *set = NULL;
    struct err e = {0, ""};
    char *body = NULL, q[LOG_QUOTE_MAX], qe[LOG_QUOTE_MAX];
    int64_t fetched = 0;
    int rc;

    rc = store_jwks_get(st, s->issuer, &body, &fetched, &e);
    if (rc == 0)
        rc = jwk_set_parse(body, strlen(body), &set, &e);
    free(body);
    if (rc != 0) {
        if (rc != ERR_NOTFOUND)
            log_event(LOG_WARN, "jwks", "load_failed", "issuer=%s err=%s",
                      log_quote(s->issuer, q, sizeof q),
                      log_quote(e.msg, qe, sizeof qe));
        return;
    }
    pthread_mutex_lock(&j->lock);
    if (s->set == NULL) {
        s->set = set;
        set = NULL;
        s->next_ms = fetched + (int64_t)JWKS_REFRESH_DEFAULT_S * 1000;
        log_event(
            LOG_INFO, "jwks", "loaded", "issuer=%s keys=%zu fetched_ms=%lld",
            log_quote(s->issuer, q, sizeof q), s->set->n, (long long)fetched);
    }
    pthread_mutex_unlock(&j->lock);
    jwk_set_free(set);
}

void
jwks_attach_store(struct jwks *j, struct store *store)
{
    pthread_mutex_lock(&j->store_lock);
    j->store = store;
    pthread_mutex_unlock(&j->store_lock);
    for (size_t i = 0; store != NULL && i < j->n; i++)
        jwks_load_one(j, store, i);
}

static void
jwks_persist(struct jwks *j, const struct jwks_source *s, const char *body)
{
    struct err e = {0, ""};
    char q[LOG_QUOTE_MAX], qe[LOG_QUOTE_MAX];

    pthread_mutex_lock(&j->store_lock);
    if (j->store != NULL &&
        store_jwks_put(j->store, s->issuer, body, timefmt_now_ms(), &e) != 0)
        log_event(LOG_WARN, "jwks", "persist_failed", "issuer=%s err=%s",
                  log_quote(s->issuer, q, sizeof q),
                  log_quote(e.msg, qe, sizeof qe));
    pthread_mutex_unlock(&j->store_lock);
}

/* Fetch one source (mutex not held).  Returns 0 with *set and *max_age. */
static int
jwks_fetch(struct jwks *j, const struct jwks_source *s, struct jwk_set **set,
           long *max_age, struct err *err)
{
    struct jwk_http h;
    char *found = NULL;
    const char *uri = s->uri;
    int rc;

    if (uri == NULL) {
        rc = jwk_discover(s->issuer, s->allow_http, &found, err);
        if (rc != 0)
            return rc;
        uri = found;
    }
    rc = jwk_http_get(uri, s->allow_http, &h, err);
    free(found);
    if (rc != 0)
        return rc;
    rc = jwk_set_parse(h.body, h.len, set, err);
    if (rc == 0) {
        *max_age = h.max_age;
        jwks_persist(j, s, h.body);
    }
    free(h.body);
    return rc;
}

static long
jwks_clamp_age(long max_age)
{
    if (max_age < 0)
        return JWKS_REFRESH_DEFAULT_S;
    if (max_age < JWKS_REFRESH_MIN_S)
        return JWKS_REFRESH_MIN_S;
    if (max_age > JWKS_REFRESH_MAX_S)
        return JWKS_REFRESH_MAX_S;
    return max_age;
}

/* Install the outcome of a fetch of s; mutex held. */
static void
jwks_apply(struct jwks_source *s, int rc, struct jwk_set *set, long max_age,
           const struct err *e)
{
    int64_t now = timefmt_now_ms();
    char q[LOG_QUOTE_MAX], qe[LOG_QUOTE_MAX];

    if (rc == 0) {
        long age = jwks_clamp_age(max_age);
        jwk_set_free(s->set);
        s->set = set;
        s->next_ms = now + (int64_t)age * 1000;
        s->retry_ms = JWKS_RETRY_MIN_MS;
        s->error[0] = '\0';
        log_event(LOG_INFO, "jwks", "refreshed",
                  "issuer=%s keys=%zu next_s=%ld",
                  log_quote(s->issuer, q, sizeof q), set->n, age);
    } else {
        s->next_ms = now + s->retry_ms;
        if (s->retry_ms < JWKS_RETRY_MAX_MS)
            s->retry_ms *= 2;
        snprintf(s->error, sizeof s->error, "%s", e->msg);
        log_event(LOG_WARN, "jwks", "fetch_failed",
                  "issuer=%s cached_keys=%zu retry_s=%lld err=%s",
                  log_quote(s->issuer, q, sizeof q), s->set ? s->set->n : 0,
                  (long long)(s->retry_ms / 2000),
                  log_quote(e->msg, qe, sizeof qe));
    }
    s->fetching = 0;
    s->gen++;
}

/* The source due first, or NULL; *wait_ms says how long until then. */
static struct jwks_source *
jwks_due(struct jwks *j, int64_t *wait_ms)
{
    int64_t now = timefmt_now_ms(), soonest = INT64_MAX;

    for (size_t i = 0; i < j->n; i++) {
        struct jwks_source *s = &j->src[i];
        if (s->want || s->next_ms <= now)
            return s;
        if (s->next_ms - now < soonest)
            soonest = s->next_ms - now;
    }
    *wait_ms = soonest;
    return NULL;
}

static void
jwks_sleep(struct jwks *j, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ms > 3600000)
        ms = 3600000;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&j->wake, &j->lock, &ts);
}

static void *
jwks_main(void *arg)
{
    struct jwks *j = arg;

    pthread_setname_np(pthread_self(), "labgate-jwks");
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        int64_t wait_ms = 0;
        struct jwks_source *s = jwks_due(j, &wait_ms);
        struct jwk_set *set = NULL;
        struct err e = {0, ""};
        long max_age = -1;
        int rc;

        if (s == NULL) {
            jwks_sleep(j, wait_ms);
            continue;
        }
        s->want = 0;
        s->fetching = 1;
        pthread_mutex_unlock(&j->lock);
        rc = jwks_fetch(j, s, &set, &max_age, &e);
        pthread_mutex_lock(&j->lock);
        jwks_apply(s, rc, set, max_age, &e);
        pthread_cond_broadcast(&j->done);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int
jwks_start(struct jwks *j, struct store *store, struct err *err)
{
    if (store != NULL)
        jwks_attach_store(j, store);
    if (pthread_create(&j->thread, NULL, jwks_main, j) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start the JWKS thread");
    j->started = 1;
    return 0;
}

/* Copy kid's key out of s; mutex held.  Returns 0 or -1 when absent. */
static int
jwks_take(const struct jwks_source *s, const char *kid, struct jwks_key *out)
{
    const struct jwk_entry *e = jwk_set_find(s->set, kid);

    if (e == NULL || EVP_PKEY_up_ref(e->key.pkey) != 1)
        return -1;
    *out = e->key;
    return 0;
}

/* Wait (mutex held) until s's generation passes gen or time runs out. */
static void
jwks_wait(struct jwks *j, struct jwks_source *s, uint64_t gen)
{
    struct timespec ts;
    int64_t ms = 2 * (JWKS_CONNECT_TIMEOUT_MS + JWKS_TOTAL_TIMEOUT_MS);

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    while (s->gen == gen && !j->stopping)
        if (pthread_cond_timedwait(&j->done, &j->lock, &ts) != 0)
            break;
}

/* Ask the thread for a fetch of s and wait for it; mutex held. */
static void
jwks_request(struct jwks *j, struct jwks_source *s)
{
    s->want = 1;
    pthread_cond_signal(&j->wake);
    jwks_wait(j, s, s->gen);
}

int
jwks_lookup(struct jwks *j, size_t i, const char *kid, struct jwks_key *out,
            struct err *err)
{
    struct jwks_source *s = &j->src[i];
    int64_t now = timefmt_now_ms();
    int rc = 0, limited = 0;

    pthread_mutex_lock(&j->lock);
    if (jwks_take(s, kid, out) == 0)
        goto out;
    if (s->fetching) {
        jwks_wait(j, s, s->gen);
    } else if (s->set == NULL) {
        /* Never fetched, or the back-off after a failure has run out. */
        if (s->gen == 0 || now >= s->next_ms)
            jwks_request(j, s);
    } else if (s->last_kid_fetch_ms == 0 ||
               now - s->last_kid_fetch_ms >= JWKS_REFETCH_MIN_MS) {
        s->last_kid_fetch_ms = now;
        jwks_request(j, s);
    } else {
        limited = 1;
    }
    if (jwks_take(s, kid, out) == 0)
        goto out;
    if (s->set == NULL)
        rc = err_set(err, ERR_AUTH, "no keys for issuer %.100s: %s", s->issuer,
                     s->error[0] ? s->error : "not fetched yet");
    else
        rc = err_set(err, ERR_NOTFOUND,
                     "kid %.64s is not in the key set of %.100s%s", kid,
                     s->issuer,
                     limited ? " (refetch limited to one per minute)" : "");
out:
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int
jwks_has(struct jwks *j, size_t i, const char *kid)
{
    int found;

    pthread_mutex_lock(&j->lock);
    found = jwk_set_find(j->src[i].set, kid) != NULL;
    pthread_mutex_unlock(&j->lock);
    return found;
}

int64_t
jwks_next_refresh_ms(struct jwks *j, size_t i)
{
    int64_t ms;

    pthread_mutex_lock(&j->lock);
    ms = j->src[i].next_ms;
    pthread_mutex_unlock(&j->lock);
    return ms;
}

void
jwks_key_release(struct jwks_key *k)
{
    EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
}

void
jwks_free(struct jwks *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = 1;
    pthread_cond_broadcast(&j->wake);
    pthread_cond_broadcast(&j->done);
    pthread_mutex_unlock(&j->lock);
    if (j->started)
        pthread_join(j->thread, NULL);
    for (size_t i = 0; i < j->n; i++) {
        free(j->src[i].issuer);
        free(j->src[i].uri);
        jwk_set_free(j->src[i].set);
    }
    free(j->src);
    pthread_mutex_destroy(&j->lock);
    pthread_mutex_destroy(&j->store_lock);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->done);
    free(j);
    curl_global_cleanup();
}
