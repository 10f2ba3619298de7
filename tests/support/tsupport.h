/*
 * Test support: run the real labgate-server as a child process on an
 * ephemeral loopback port with a temporary database, and talk HTTP to it
 * through libcurl.  Used by every integration test.
 */
#ifndef LABGATE_TSUPPORT_H
#define LABGATE_TSUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#define TSUPPORT_PATH_MAX 512

struct tsrv {
    pid_t pid;
    int port;
    char dir[64];                   /* temporary directory, owned */
    char db[TSUPPORT_PATH_MAX];     /* dir/labgate.db unless set */
    char log[TSUPPORT_PATH_MAX];    /* dir/server.log: stderr */
    char config[TSUPPORT_PATH_MAX]; /* --config file, or "" */
    char base[64];                  /* "http://127.0.0.1:PORT" */
};

struct tresp {
    long status;
    char *body;    /* NUL-terminated */
    size_t len;
    char *headers; /* raw header block, NUL-terminated */
};

/* Make a fresh temporary directory and fill in paths; no process yet. */
void tsrv_init(struct tsrv *s);

/*
 * Start the server (argv extras NULL-terminated, may be NULL) and wait
 * until it logs the port it listens on.  Returns 0, or -1 when it exited
 * or did not start within 10 s (its log is printed).
 */
int tsrv_start(struct tsrv *s, const char *const *extra);

/* SIGTERM and wait; returns the exit status, or -1 if killed by signal. */
int tsrv_stop(struct tsrv *s);

/* SIGKILL and reap. */
void tsrv_kill9(struct tsrv *s);

/* Remove the temporary directory. */
void tsrv_cleanup(struct tsrv *s);

/*
 * Run labgate-server with argv extras to completion (for CLI tests).
 * Captures stdout+stderr into out (size n).  Returns the exit status.
 */
int tsrv_run_cli(const char *const *extra, char *out, size_t n);

/*
 * Count the rows of the server's results table that match where (SQL
 * after "FROM results", may be ""), reading the database file directly.
 * Returns the count, or -1 when the database cannot be read.
 */
int tsrv_count_rows(const struct tsrv *s, const char *where);

/*
 * Whether the server's log contains needle (1 or 0).  Aborts the test
 * process when the log cannot be read, so "not in the log" is never a
 * read error in disguise.
 */
int tsrv_log_has(const struct tsrv *s, const char *needle);

/* Write text to path (mode 0644). Returns 0 or -1. */
int tsupport_write_file(const char *path, const char *text);

/*
 * One HTTP request.  headers is NULL-terminated "Name: value" strings (may
 * be NULL).  body may be NULL.  Returns 0 (out filled) or -1 on a
 * transport error.  Free out with tresp_free.
 */
int thttp(const char *method, const char *url, const char *const *headers,
          const char *body, size_t body_len, struct tresp *out);

/* POST body to base+path with content-type application/json. */
int thttp_post_json(const struct tsrv *s, const char *path, const char *body,
                    struct tresp *out);

/* GET base+path. */
int thttp_get(const struct tsrv *s, const char *path, struct tresp *out);

/* The value of header name in r (case-insensitive), copied into out. */
int tresp_header(const struct tresp *r, const char *name, char *out,
                 size_t n);

void tresp_free(struct tresp *r);

#endif
