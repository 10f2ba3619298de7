/*
 * bench-ceiling: the HTTP ceiling labgate is measured against.  A bare
 * CivetWeb server, built from the same library with the same options as
 * labgate-server (thread count, keep-alive, tcp_nodelay, one write per
 * response), that reads each request body and answers 201 with a small
 * JSON body without doing anything else.
 *
 * usage: bench-ceiling HOST:PORT THREADS
 */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
ceiling_request(struct mg_connection *conn)
{
    static const char reply[] = "HTTP/1.1 201 Created\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 8\r\n\r\n"
                                "{\"id\":1}";
    char buf[16384];

    while (mg_read(conn, buf, sizeof buf) > 0)
        ;
    mg_write(conn, reply, sizeof reply - 1);
    return 201;
}

int
main(int argc, char **argv)
{
    struct mg_callbacks cb;
    struct mg_context *ctx;
    sigset_t set;
    int sig;

    if (argc != 3) {
        fprintf(stderr, "usage: bench-ceiling HOST:PORT THREADS\n");
        return 2;
    }
    const char *options[] = {"listening_ports", argv[1],
                             "num_threads", argv[2],
                             "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", "30000",
                             "tcp_nodelay", "1",
                             "decode_url", "no",
                             NULL};
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    memset(&cb, 0, sizeof cb);
    cb.begin_request = ceiling_request;
    mg_init_library(0);
    ctx = mg_start(&cb, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "bench-ceiling: cannot listen on %s\n", argv[1]);
        return 1;
    }
    fprintf(stderr, "bench-ceiling: listening on %s\n", argv[1]);
    sigwait(&set, &sig);
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
