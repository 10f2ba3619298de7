/*
 * Data sources and the follower thread.
 *
 * The HTTP source keeps one libcurl easy handle, so every request reuses
 * one keep-alive connection (a dashboard costs the server one thread).
 * Failures are turned into the short reasons the status line shows:
 * "connection refused", "timeout", "HTTP 401: <server's message>".
 *
 * The follower (source_follow_*) owns a source and a thread.  Its
 * protocol: read GET /lab/summary (which says the highest id it covers)
 * and the newest results, then long-poll for the newest results after
 * that id (order=desc, at most SOURCE_POLL_LIMIT, paced), so a burst of
 * posts costs each dashboard one small answer; when a poll comes back
 * full, results were skipped and the summary is re-read early.  The
 * summary is re-read every interval; any failure backs off (500 ms
 * doubling to 5 s) and starts over with a full read, so a restarted or
 * replaced server is picked up cleanly.  Messages go on a mutex-guarded
 * list and one byte per message goes down a pipe to wake the UI.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "hex.h"
#include "source.h"
#include "summary.h"
#include "timefmt.h"

#define SOURCE_BACKOFF_MAX_MS 5000
#define SOURCE_FEED_INITIAL 100
#define SOURCE_PACE_MS 500
#define SOURCE_POLL_LIMIT 25    /* newest results per poll */
#define SOURCE_CATCH_UP_MS 2000 /* summary delay after a skip */

struct source_http {
    struct source base;
    CURL *curl;
    char *base_url;
    struct curl_slist *headers;
    atomic_int cancelled;
};

static size_t
source_http_collect(char *p, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;

    return buf_append(b, p, size * nmemb) == 0 ? size * nmemb : 0;
}

static int
source_http_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                     curl_off_t un)
{
    struct source_http *h = arg;

    return atomic_load(&h->cancelled) ? 1 : 0;
}

/* The reason for a transport failure, as the status line shows it. */
static int
source_http_fail(struct source_http *h, CURLcode rc, struct err *err)
{
    long os_errno = 0;

    curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
        return err_set(err, ERR_IO, "connection refused");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return err_set(err, ERR_IO, "timeout");
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return err_set(err, ERR_IO, "cancelled");
    if (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
        rc == CURLE_SEND_ERROR)
        return err_set(err, ERR_IO, "connection lost");
    return err_set(err, ERR_IO, "%s", curl_easy_strerror(rc));
}

static int
source_http_status(long status, json_t *body, struct err *err)
{
    const char *msg = json_string_value(json_object_get(body, "message"));
    int code = status == 401 || status == 403 ? ERR_AUTH : ERR_IO;

    return err_set(err, code, "HTTP %ld%s%.120s", status, msg ? ": " : "",
                   msg ? msg : "");
}

static int
source_http_get(struct source *s, const char *path, long timeout_s,
                struct buf *body, struct err *err)
{
    struct source_http *h = (struct source_http *)s;
    struct buf url = BUF_INIT;
    long status = 0;
    json_t *doc;
    CURLcode rc;
    int ret;

    if (buf_printf(&url, "%s%s", h->base_url, path) != 0) {
        buf_free(&url);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    curl_easy_setopt(h->curl, CURLOPT_URL, url.data);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, timeout_s);
    rc = curl_easy_perform(h->curl);
    buf_free(&url);
    if (rc != CURLE_OK)
        return source_http_fail(h, rc, err);
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
        return 0;
    doc = body->data ? json_loads(body->data, 0, NULL) : NULL;
    ret = source_http_status(status, doc, err);
    json_decref(doc);
    buf_reset(body);
    return ret;
}

static void
source_http_cancel(struct source *s, int on)
{
    atomic_store(&((struct source_http *)s)->cancelled, on);
}

static void
source_http_free(struct source *s)
{
    struct source_http *h = (struct source_http *)s;

    curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->base_url);
    free(h);
}

static const struct source_ops source_http_ops = {
    source_http_get, source_http_cancel, source_http_free};

static int
source_http_setup(struct source_http *h, const char *token)
{
    struct buf auth = BUF_INIT;
    struct curl_slist *l;

    h->headers = curl_slist_append(NULL, "Accept: application/json");
    if (h->headers == NULL)
        return ERR_NOMEM;
    if (token != NULL && token[0] != '\0') {
        if (buf_printf(&auth, "Authorization: Bearer %s", token) != 0)
            return ERR_NOMEM;
        l = curl_slist_append(h->headers, auth.data);
        /* The header copy holds the token; wipe ours. */
        memset(auth.data, 0, auth.len);
        buf_free(&auth);
        if (l == NULL)
            return ERR_NOMEM;
        h->headers = l;
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT,
                     "labgate-tui/" LABGATE_VERSION);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, source_http_collect);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 3L);
    curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, source_http_progress);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
    return 0;
}

struct source *
source_http_new(const char *base_url, const char *token)
{
    struct source_http *h = calloc(1, sizeof *h);
    size_t n;

    if (h == NULL)
        return NULL;
    h->base.ops = &source_http_ops;
    h->curl = curl_easy_init();
    h->base_url = strdup(base_url);
    if (h->curl == NULL || h->base_url == NULL ||
        source_http_setup(h, token) != 0) {
        source_http_free(&h->base);
        return NULL;
    }
    n = strlen(h->base_url);
    while (n > 0 && h->base_url[n - 1] == '/')
        h->base_url[--n] = '\0';
    return &h->base;
}

int
source_get_json(struct source *s, const char *path, long timeout_s,
                json_t **out, struct err *err)
{
    struct buf body = BUF_INIT;
    int rc = s->ops->get(s, path, timeout_s, &body, err);

    if (rc == 0) {
        *out = body.data ? json_loadb(body.data, body.len, 0, NULL) : NULL;
        if (*out == NULL)
            rc = err_set(err, ERR_INVALID, "the server's answer is not JSON");
    }
    buf_free(&body);
    return rc;
}

void
source_free(struct source *s)
{
    if (s != NULL)
        s->ops->free(s);
}

/* The in-memory source: a small table of canned answers. */
#define SOURCE_MEMORY_MAX 32

struct source_memory_entry {
    char *prefix, *body, *reason;
};

struct source_memory {
    struct source base;
    pthread_mutex_t lock;
    struct source_memory_entry e[SOURCE_MEMORY_MAX];
    int n, calls;
    atomic_int cancelled;
};

static const struct source_memory_entry *
source_memory_match(const struct source_memory *m, const char *path)
{
    const struct source_memory_entry *best = NULL;

    for (int i = 0; i < m->n; i++) {
        size_t len = strlen(m->e[i].prefix);
        if (strncmp(path, m->e[i].prefix, len) == 0 &&
            (best == NULL || len > strlen(best->prefix)))
            best = &m->e[i];
    }
    return best;
}

static int
source_memory_get(struct source *s, const char *path, long timeout_s,
                  struct buf *body, struct err *err)
{
    struct source_memory *m = (struct source_memory *)s;
    const struct source_memory_entry *e;
    int rc = 0;

    /* A real long-poll waits; pausing here keeps a follower from spinning. */
    if (strstr(path, "wait=") != NULL)
        usleep(20000);
    pthread_mutex_lock(&m->lock);
    m->calls++;
    e = source_memory_match(m, path);
    if (atomic_load(&m->cancelled))
        rc = err_set(err, ERR_IO, "cancelled");
    else if (e == NULL)
        rc = err_set(err, ERR_IO, "HTTP 404: no route for this path");
    else if (e->body == NULL)
        rc = err_set(err, ERR_IO, "%s", e->reason);
    else if (buf_puts(body, e->body) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void
source_memory_cancel(struct source *s, int on)
{
    atomic_store(&((struct source_memory *)s)->cancelled, on);
}

static void
source_memory_free(struct source *s)
{
    struct source_memory *m = (struct source_memory *)s;

    for (int i = 0; i < m->n; i++) {
        free(m->e[i].prefix);
        free(m->e[i].body);
        free(m->e[i].reason);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const struct source_ops source_memory_ops = {
    source_memory_get, source_memory_cancel, source_memory_free};

struct source *
source_memory_new(void)
{
    struct source_memory *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->base.ops = &source_memory_ops;
    pthread_mutex_init(&m->lock, NULL);
    return &m->base;
}

static char *
source_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int
source_memory_set(struct source *s, const char *prefix, const char *body,
                  const char *reason)
{
    struct source_memory *m = (struct source_memory *)s;
    struct source_memory_entry *e = NULL;
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->e[i].prefix, prefix) == 0)
            e = &m->e[i];
    if (e == NULL && m->n < SOURCE_MEMORY_MAX) {
        e = &m->e[m->n++];
        e->prefix = strdup(prefix);
    }
    if (e == NULL || e->prefix == NULL) {
        rc = ERR_NOMEM;
    } else {
        free(e->body);
        free(e->reason);
        e->body = source_dup(body);
        e->reason = source_dup(reason ? reason : "failed");
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int
source_memory_calls(struct source *s)
{
    struct source_memory *m = (struct source_memory *)s;
    int n;

    pthread_mutex_lock(&m->lock);
    n = m->calls;
    pthread_mutex_unlock(&m->lock);
    return n;
}

int64_t
source_backoff_ms(int attempt, int64_t max_ms)
{
    int64_t d = 500;

    for (int i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

/*
 * Queue a message for the UI; takes doc.  Called with f->lock held.
 * Returns the message (NULL when out of memory, doc freed).
 */
static struct source_msg *
source_follow_push(struct source_follow *f, enum source_msg_kind kind,
                   json_t *doc, const char *reason, int64_t retry_ms)
{
    struct source_msg *m = calloc(1, sizeof *m);
    char one = 1;

    if (m == NULL) {
        json_decref(doc);
        return NULL;
    }
    m->kind = kind;
    m->doc = doc;
    m->at_ms = timefmt_now_ms();
    m->retry_ms = retry_ms;
    snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : "");
    if (f->tail)
        f->tail->next = m;
    else
        f->head = m;
    f->tail = m;
    if (write(f->wake_fd[1], &one, 1) < 0) {
        /* The pipe is full: the UI has wake-ups pending already. */
    }
    return m;
}

static void
source_follow_post(struct source_follow *f, enum source_msg_kind kind,
                   json_t *doc)
{
    pthread_mutex_lock(&f->lock);
    source_follow_push(f, kind, doc, NULL, 0);
    pthread_mutex_unlock(&f->lock);
}

int
source_summary_path(const char *prefix, char out[SOURCE_PATH_MAX])
{
    size_t n = prefix != NULL ? strlen(prefix) : 0;
    int head;

    if (n > SOURCE_PREFIX_MAX)
        return ERR_INVALID;
    head = snprintf(out, SOURCE_PATH_MAX, "/lab/summary%s",
                    n > 0 ? "?prefix=" : "");
    hex_percent_encode(prefix != NULL ? prefix : "", n, 0, out + head);
    return 0;
}

/* The highest "id" in an array of results, or floor. */
static int64_t
source_max_id(json_t *results, int64_t floor)
{
    size_t i;
    json_t *r;

    json_array_foreach(results, i, r)
    {
        int64_t id = json_integer_value(json_object_get(r, "id"));
        if (id > floor)
            floor = id;
    }
    return floor;
}

struct source_cursor {
    int64_t after;        /* highest result id delivered */
    int64_t next_summary; /* when to re-read the summary */
};

static int
source_follow_summary(struct source_follow *f, struct source_cursor *c,
                      int set_cursor, struct err *err)
{
    struct buf body = BUF_INIT;
    int64_t last_id = 0;
    struct source_msg *m;

    if (f->src->ops->get(f->src, f->summary_path, 15, &body, err) != 0 ||
        summary_parse(body.data ? body.data : "", body.len, NULL, NULL,
                      &last_id, err) != 0) {
        buf_free(&body);
        return err->code;
    }
    if (set_cursor)
        c->after = last_id;
    c->next_summary = timefmt_now_ms() + (int64_t)f->interval_s * 1000;
    pthread_mutex_lock(&f->lock);
    m = source_follow_push(f, SOURCE_MSG_SUMMARY, NULL, NULL, 0);
    if (m != NULL) {
        m->len = body.len;
        m->text = buf_steal(&body);
    }
    pthread_mutex_unlock(&f->lock);
    buf_free(&body);
    return 0;
}

static int
source_follow_results(struct source_follow *f, const char *path, long tmo,
                      json_t **list, struct err *err)
{
    json_t *doc = NULL;

    if (source_get_json(f->src, path, tmo, &doc, err) != 0)
        return err->code;
    *list = json_incref(json_object_get(doc, "results"));
    json_decref(doc);
    if (!json_is_array(*list)) {
        json_decref(*list);
        return err_set(err, ERR_INVALID, "the results list is malformed");
    }
    return 0;
}

/* A full read: summary, then the newest results for the feed. */
static int
source_follow_sync(struct source_follow *f, struct source_cursor *c,
                   struct err *err)
{
    char path[96];
    json_t *list;

    if (source_follow_summary(f, c, 1, err) != 0)
        return err->code;
    snprintf(path, sizeof path, "/lab/results?limit=%d", SOURCE_FEED_INITIAL);
    if (source_follow_results(f, path, 15, &list, err) != 0)
        return err->code;
    c->after = source_max_id(list, c->after);
    source_follow_post(f, SOURCE_MSG_FEED, list);
    return 0;
}

/* Sleep until ms (wall clock), a reconnect or stop. Lock held. */
static void
source_follow_sleep(struct source_follow *f, int64_t until_ms)
{
    struct timespec ts = {(time_t)(until_ms / 1000),
                          (long)(until_ms % 1000) * 1000000L};

    while (!f->stop && !f->reconnect && timefmt_now_ms() < until_ms)
        if (pthread_cond_timedwait(&f->wake, &f->lock, &ts) == ETIMEDOUT)
            break;
}

/* One long-poll, preceded by a summary re-read when one is due. */
static int
source_follow_poll(struct source_follow *f, struct source_cursor *c,
                   struct err *err)
{
    int64_t now = timefmt_now_ms(), left;
    char path[128];
    json_t *list;
    int wait;

    if (now >= c->next_summary && source_follow_summary(f, c, 0, err) != 0)
        return err->code;
    left = (c->next_summary - timefmt_now_ms() + 999) / 1000;
    wait = left < 1 ? 1 : left < f->wait_s ? (int)left : f->wait_s;
    snprintf(path, sizeof path,
             "/lab/results?after=%lld&wait=%d&limit=%d&order=desc",
             (long long)c->after, wait, SOURCE_POLL_LIMIT);
    if (source_follow_results(f, path, wait + 10, &list, err) != 0)
        return err->code;
    if (json_array_size(list) == 0) {
        json_decref(list);
        source_follow_post(f, SOURCE_MSG_ALIVE, NULL);
        return 0;
    }
    /* A full answer may have skipped older results: the feed keeps the
     * newest, and an early summary puts the matrix counts right. */
    if (json_array_size(list) >= SOURCE_POLL_LIMIT &&
        c->next_summary > timefmt_now_ms() + SOURCE_CATCH_UP_MS)
        c->next_summary = timefmt_now_ms() + SOURCE_CATCH_UP_MS;
    c->after = source_max_id(list, c->after);
    source_follow_post(f, SOURCE_MSG_RESULTS, list);
    /* Pace a busy feed: a screen cannot show more than a few updates a
     * second, and a hundred dashboards re-polling at once would cost
     * the server more than the posts themselves. */
    pthread_mutex_lock(&f->lock);
    source_follow_sleep(f, timefmt_now_ms() + SOURCE_PACE_MS);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static void *
source_follow_main(void *arg)
{
    struct source_follow *f = arg;
    struct source_cursor c = {0, 0};
    int synced = 0, attempt = 0, rc;

    pthread_mutex_lock(&f->lock);
    while (!f->stop) {
        struct err e = {0, ""};
        if (f->paused) {
            pthread_cond_wait(&f->wake, &f->lock);
            continue;
        }
        if (f->reconnect) {
            f->reconnect = 0;
            synced = 0;
            attempt = 0;
            if (f->src->ops->cancel)
                f->src->ops->cancel(f->src, 0);
        }
        pthread_mutex_unlock(&f->lock);
        rc = synced ? source_follow_poll(f, &c, &e)
                    : source_follow_sync(f, &c, &e);
        pthread_mutex_lock(&f->lock);
        if (rc == 0) {
            synced = 1;
            attempt = 0;
            continue;
        }
        if (f->stop || f->reconnect)
            continue;
        synced = 0;
        int64_t retry = timefmt_now_ms() +
                        source_backoff_ms(attempt++, SOURCE_BACKOFF_MAX_MS);
        source_follow_push(f, SOURCE_MSG_FAILED, NULL, e.msg, retry);
        source_follow_sleep(f, retry);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

int
source_follow_start(struct source_follow *f, struct source *src, int interval_s,
                    int wait_s, const char *summary_path)
{
    memset(f, 0, sizeof *f);
    f->src = src;
    snprintf(f->summary_path, sizeof f->summary_path, "%s",
             summary_path != NULL ? summary_path : "/lab/summary");
    f->interval_s = interval_s > 0 ? interval_s : 10;
    f->wait_s = wait_s > 0 ? wait_s : 25;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    if (pipe(f->wake_fd) != 0)
        return ERR_IO;
    fcntl(f->wake_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(f->wake_fd[1], F_SETFL, O_NONBLOCK);
    if (pthread_create(&f->thread, NULL, source_follow_main, f) != 0)
        return ERR_IO;
    f->started = 1;
    return 0;
}

struct source_msg *
source_follow_take(struct source_follow *f)
{
    struct source_msg *m;
    char drain[64];

    while (read(f->wake_fd[0], drain, sizeof drain) > 0) {
    }
    pthread_mutex_lock(&f->lock);
    m = f->head;
    f->head = f->tail = NULL;
    pthread_mutex_unlock(&f->lock);
    return m;
}

void
source_msg_free(struct source_msg *m)
{
    json_decref(m->doc);
    free(m->text);
    free(m);
}

void
source_follow_pause(struct source_follow *f, int paused)
{
    pthread_mutex_lock(&f->lock);
    f->paused = paused;
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
}

void
source_follow_reconnect(struct source_follow *f)
{
    pthread_mutex_lock(&f->lock);
    f->reconnect = 1;
    if (f->src->ops->cancel)
        f->src->ops->cancel(f->src, 1);
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
}

void
source_follow_stop(struct source_follow *f)
{
    struct source_msg *m, *next;

    if (f->started) {
        pthread_mutex_lock(&f->lock);
        f->stop = 1;
        if (f->src->ops->cancel)
            f->src->ops->cancel(f->src, 1);
        pthread_cond_broadcast(&f->wake);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        f->started = 0;
    }
    for (m = f->head; m != NULL; m = next) {
        next = m->next;
        source_msg_free(m);
    }
    f->head = f->tail = NULL;
    source_free(f->src);
    f->src = NULL;
    if (f->wake_fd[0] > 0) {
        close(f->wake_fd[0]);
        close(f->wake_fd[1]);
    }
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
}
