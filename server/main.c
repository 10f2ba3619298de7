/*
 * labgate-server: command line, start-up and orderly shutdown.
 *
 * Start-up order matters: configuration is checked completely (exit 2 on
 * any problem) before the database is opened, and the database is migrated
 * before the listener accepts anything.  SIGINT and SIGTERM are taken by
 * sigwait in the main thread; every other thread has them blocked.  On a
 * signal the listener stops (requests in flight finish), then the store
 * commits what is queued and closes.
 */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "backup.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "server.h"
#include "store.h"
#include "timefmt.h"

#define MAIN_EXIT_USAGE 2
#define MAIN_MMAP_THRESHOLD (256 * 1024) /* bytes; see main() */

static void
main_usage(FILE *f)
{
    fprintf(f,
            "usage: labgate-server [--config FILE] [--listen HOST:PORT] "
            "[--db PATH]\n"
            "       labgate-server backup [--config FILE] [--db PATH] FILE\n"
            "       labgate-server audit verify|export [...] (see "
            "audit --help)\n"
            "       labgate-server --help | --version\n"
            "\n"
            "Stores CI results posted over HTTP in SQLite.\n"
            "\n"
            "  --config FILE      JSON configuration file\n"
            "  --listen HOST:PORT address to listen on (default %s;\n"
            "                     port 0 picks a free port)\n"
            "  --db PATH          SQLite database (default %s)\n"
            "  --help             show this help\n"
            "  --version          show the version\n"
            "\n"
            "Routes: POST /lab/results (open), POST /lab/results-secure "
            "(OIDC JWT),\n"
            "POST /lab/results-ci (AWS SigV4), POST /sts, GET /lab/results,\n"
            "GET /lab/results/ID, GET /lab/summary, GET /healthz, "
            "GET /readyz,\nGET /metrics.\n",
            CONFIG_DEFAULT_LISTEN, CONFIG_DEFAULT_DATABASE);
}

struct main_args {
    const char *config;
    const char *listen;
    const char *db;
};

/* Parse argv; returns -1 to exit 0 (help, version), 0 to run, 2 on error. */
static int
main_parse_args(int argc, char **argv, struct main_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(a, 0, sizeof *a);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'h':
            main_usage(stdout);
            return -1;
        case 'V':
            printf("labgate-server %s\n", LABGATE_VERSION);
            return -1;
        default:
            main_usage(stderr);
            return MAIN_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "labgate-server: unexpected argument '%s'\n",
                argv[optind]);
        return MAIN_EXIT_USAGE;
    }
    return 0;
}

static int
main_configure(struct config *cfg, const struct main_args *a,
               struct err *err)
{
    if (config_init(cfg) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (a->config && config_load_file(cfg, a->config, err) != 0)
        return err->code;
    if (a->listen && config_set_listen(cfg, a->listen, err) != 0)
        return err->code;
    if (a->db && config_set_database(cfg, a->db, err) != 0)
        return err->code;
    return 0;
}

static int
main_wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

static void
main_block_signals(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int
main_run(struct server *srv)
{
    struct store_options so;
    struct err err = {0, ""};
    char path[LOG_QUOTE_MAX];
    int sig;

    memset(&so, 0, sizeof so);
    so.path = srv->cfg->database;
    so.batch_max = srv->cfg->limits.batch_max;
    so.queue_max = srv->cfg->limits.queue_max;
    so.readers = 8;
    so.key_file = srv->cfg->audit.key_file;
    so.retention_days = srv->cfg->audit.retention_days;
    if (store_open(&srv->store, &so, &err) != 0) {
        fprintf(stderr, "labgate-server: %s\n", err.msg);
        return 1;
    }
    auth_attach_store(srv, srv->store);
    store_set_commit_hook(srv->store, metrics_store_commit, srv->metrics);
    if (http_start(srv, &err) != 0) {
        fprintf(stderr, "labgate-server: %s\n", err.msg);
        auth_attach_store(srv, NULL);
        store_close(srv->store);
        return 1;
    }
    log_event(LOG_INFO, "main", "listening",
              "listen=%s port=%d db=%s threads=%d version=%s",
              srv->cfg->listen, srv->port,
              log_quote(srv->cfg->database, path, sizeof path),
              srv->cfg->limits.threads, LABGATE_VERSION);
    sig = main_wait_for_signal();
    log_event(LOG_INFO, "main", "stopping", "signal=%d", sig);
    store_watch_close(srv->store);
    http_stop(srv);
    auth_attach_store(srv, NULL);
    store_close(srv->store);
    srv->store = NULL;
    log_event(LOG_INFO, "main", "stopped", "");
    return 0;
}

int
main(int argc, char **argv)
{
    struct main_args args;
    struct config cfg;
    struct server srv;
    struct err err = {0, ""};
    int rc;

    /* Subcommands come first and have flags of their own. */
    if (argc > 1 && strcmp(argv[1], "backup") == 0)
        return backup_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "audit") == 0)
        return audit_main(argc - 1, argv + 1);
    rc = main_parse_args(argc, argv, &args);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (main_configure(&cfg, &args, &err) != 0) {
        fprintf(stderr, "labgate-server: configuration error: %s\n", err.msg);
        config_free(&cfg);
        return MAIN_EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    memset(&srv, 0, sizeof srv);
    srv.cfg = &cfg;
    srv.started_ms = timefmt_now_ms();
    srv.result_limits.max_depth = cfg.limits.max_json_depth;
    srv.result_limits.max_members = cfg.limits.max_json_members;
    if (auth_configure(&srv, &err) != 0 ||
        ratelimit_create(&srv.ratelimit, cfg.rate_limits, &err) != 0) {
        fprintf(stderr, "labgate-server: configuration error: %s\n",
                err.msg);
        auth_shutdown(&srv);
        config_free(&cfg);
        return MAIN_EXIT_USAGE;
    }
    if (metrics_create(&srv.metrics, &err) != 0) {
        fprintf(stderr, "labgate-server: %s\n", err.msg);
        ratelimit_free(srv.ratelimit);
        auth_shutdown(&srv);
        config_free(&cfg);
        return 1;
    }
    main_block_signals();
#ifdef M_MMAP_THRESHOLD
    /* glibc raises its mmap threshold each time a large block is freed,
     * after which answers of a few megabytes (a summary of thousands of
     * suites) come from the heaps of the worker threads and stay
     * resident there.  A fixed threshold gives them back when freed:
     * measured 84 MB against 36 MB resident after 16 such requests at
     * once (docs/benchmarks.md). */
    mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD);
#endif
    rc = main_run(&srv);
    ratelimit_free(srv.ratelimit);
    auth_shutdown(&srv);
    metrics_free(srv.metrics);
    config_free(&cfg);
    return rc;
}
