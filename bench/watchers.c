/*
 * Benchmark helper (not a test): N simulated dashboards watching a
 * labgate-server, to measure what watchers cost the posting path.
 *
 *   labgate-watchers-bench URL N follow SECONDS
 *       N followers exactly as labgate-tui runs them (summary, feed,
 *       long-poll after the last id, paced), draining every result;
 *   labgate-watchers-bench URL N idle SECONDS
 *       N long-polls on a filter that never matches, so every commit
 *       wakes them and they query and go back to waiting.
 *
 * Prints how many results the followers received, or how many polls
 * the idle watchers completed, and the HTTP errors seen.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source.h"
#include "timefmt.h"

static atomic_long bench_polls, bench_errors;
static atomic_int bench_stop;
static const char *bench_url;

static void *
bench_idle(void *arg)
{
    struct source *src = source_http_new(bench_url, NULL);
    struct err e = {0, ""};

    while (!atomic_load(&bench_stop)) {
        json_t *doc = NULL;
        if (source_get_json(src, "/lab/results?after=0&wait=5&suite=__nobody__",
                            35, &doc, &e) == 0)
            atomic_fetch_add(&bench_polls, 1);
        else {
            atomic_fetch_add(&bench_errors, 1);
            usleep(100000);
        }
        json_decref(doc);
    }
    source_free(src);
    return arg;
}

static long
bench_follow(int n, int seconds)
{
    struct source_follow *f = calloc((size_t)n, sizeof *f);
    int64_t end = timefmt_now_ms() + (int64_t)seconds * 1000;
    long results = 0;

    for (int i = 0; i < n; i++)
        source_follow_start(&f[i], source_http_new(bench_url, NULL), 10, 25,
                            NULL);
    while (timefmt_now_ms() < end) {
        usleep(100000);
        for (int i = 0; i < n; i++) {
            struct source_msg *m = source_follow_take(&f[i]), *next;
            for (; m != NULL; m = next) {
                next = m->next;
                if (m->kind == SOURCE_MSG_RESULTS)
                    results += (long)json_array_size(m->doc);
                if (m->kind == SOURCE_MSG_FAILED &&
                    atomic_fetch_add(&bench_errors, 1) < 3)
                    fprintf(stderr, "follower failed: %s\n", m->reason);
                source_msg_free(m);
            }
        }
    }
    for (int i = 0; i < n; i++)
        source_follow_stop(&f[i]);
    free(f);
    return results;
}

int
main(int argc, char **argv)
{
    int n, seconds;
    pthread_t *t;

    if (argc != 5) {
        fprintf(stderr, "usage: labgate-watchers-bench URL N follow|idle "
                        "SECONDS\n");
        return 2;
    }
    bench_url = argv[1];
    n = atoi(argv[2]);
    seconds = atoi(argv[4]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[3], "follow") == 0) {
        long r = bench_follow(n, seconds);
        printf("followers=%d seconds=%d results_received=%ld errors=%ld\n", n,
               seconds, r, atomic_load(&bench_errors));
        curl_global_cleanup();
        return 0;
    }
    t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, bench_idle, NULL);
    sleep((unsigned)seconds);
    atomic_store(&bench_stop, 1);
    printf("idle_watchers=%d seconds=%d polls=%ld errors=%ld\n", n, seconds,
           atomic_load(&bench_polls), atomic_load(&bench_errors));
    /* The threads sit in long-polls; exiting ends them. */
    fflush(stdout);
    _exit(0);
}
