/*
 * Helpers shared by the IAM route and STS integration tests: run a real
 * third-party signer (curl --aws-sigv4, botocore through
 * sigv4_client.py, the AWS CLI) against the test server, and read rows
 * back from its SQLite file.  Everything stays on 127.0.0.1: the AWS
 * tools get temporary config files and no instance metadata.
 */
#ifndef LABGATE_IAM_HELPERS_H
#define LABGATE_IAM_HELPERS_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tsupport.h"

#define SIGNER LABGATE_SOURCE_DIR "/tests/integration/sigv4_client.py"
#define OUT_MAX 65536

/* What a client printed: the status line first, then the body. */
struct cres {
    long status;
    char out[OUT_MAX];
    const char *body; /* inside out */
};

/* Run cmd with sh, capturing stdout; returns the exit status. */
static inline int
run_cmd(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    size_t len = 0, got;
    int st;

    cr_assert_not_null(p, "cannot run %s", cmd);
    while (len + 1 < n && (got = fread(out + len, 1, n - 1 - len, p)) > 0)
        len += got;
    out[len] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Parse "STATUS\nBODY" printed by sigv4_client.py or curl -w. */
static inline void
cres_parse(struct cres *r)
{
    char *nl = strchr(r->out, '\n');

    cr_assert_not_null(nl, "no status line in: %s", r->out);
    *nl = '\0';
    r->status = strtol(r->out, NULL, 10);
    r->body = nl + 1;
}

/* Write body to DIR/body.json and return that path in path. */
static inline void
body_file(const struct tsrv *s, const char *body, char *path, size_t n)
{
    snprintf(path, n, "%s/body.json", s->dir);
    cr_assert_eq(tsupport_write_file(path, body), 0);
}

/*
 * Sign with botocore and send: POST s->base + target with body; args are
 * extra sigv4_client.py arguments (printf-style).
 */
static inline void
boto(const struct tsrv *s, const char *target, const char *body, struct cres *r,
     const char *fmt, ...)
{
    char args[2048], cmd[4096], path[TSUPPORT_PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    body_file(s, body, path, sizeof path);
    snprintf(cmd, sizeof cmd, "python3 '%s' --url '%s%s' --body-file '%s' %s",
             SIGNER, s->base, target, path, args);
    cr_assert_eq(run_cmd(cmd, r->out, sizeof r->out), 0, "%s failed: %s", cmd,
                 r->out);
    cres_parse(r);
}

/* curl --aws-sigv4 for execute-api in eu-north-1; extra is shell text. */
static inline void
curl_sigv4(const struct tsrv *s, const char *target, const char *body,
           const char *user, const char *extra, struct cres *r)
{
    char cmd[4096], path[TSUPPORT_PATH_MAX], tmp[OUT_MAX];

    body_file(s, body, path, sizeof path);
    snprintf(cmd, sizeof cmd,
             "curl -sS -o '%s/curl.out' -w '%%{http_code}' "
             "--aws-sigv4 'aws:amz:eu-north-1:execute-api' --user '%s' "
             "-H 'Content-Type: application/json' --data-binary '@%s' %s "
             "'%s%s'",
             s->dir, user, path, extra ? extra : "", s->base, target);
    cr_assert_eq(run_cmd(cmd, tmp, sizeof tmp), 0, "curl failed: %s", tmp);
    snprintf(cmd, sizeof cmd, "cat '%s/curl.out'", s->dir);
    snprintf(r->out, sizeof r->out, "%s\n", tmp);
    run_cmd(cmd, r->out + strlen(r->out), sizeof r->out - strlen(r->out));
    cres_parse(r);
}

/* Assert r is status with exactly the JSON body {"KEY":"msg"}. */
static inline void
expect_json(const struct cres *r, long status, const char *key, const char *msg)
{
    json_t *j = json_loads(r->body, 0, NULL);

    cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
    cr_assert_not_null(j, "not JSON: %s", r->body);
    cr_assert_eq(json_object_size(j), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(j, key)), msg);
    json_decref(j);
}

/* Run sql (one row expected) and copy its text columns into cols. */
static inline int
db_row(const char *db, const char *sql, char cols[][256], int n)
{
    sqlite3 *h;
    sqlite3_stmt *q;
    int rc;

    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(h));
    rc = sqlite3_step(q);
    for (int i = 0; rc == SQLITE_ROW && i < n; i++) {
        const unsigned char *t = sqlite3_column_text(q, i);
        snprintf(cols[i], 256, "%s", t ? (const char *)t : "(null)");
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return rc == SQLITE_ROW ? 0 : -1;
}

static inline int
db_count(const char *db, const char *sql)
{
    char c[1][256];

    cr_assert_eq(db_row(db, sql, c, 1), 0);
    return atoi(c[0]);
}

/* Environment for the AWS CLI: temp config, region, no metadata calls. */
static inline void
aws_env(const struct tsrv *s, const char *akid, const char *secret,
        const char *token, char *out, size_t n)
{
    char cfg[TSUPPORT_PATH_MAX], creds[TSUPPORT_PATH_MAX], text[2048];

    snprintf(cfg, sizeof cfg, "%s/aws-config", s->dir);
    snprintf(creds, sizeof creds, "%s/aws-credentials", s->dir);
    cr_assert_eq(tsupport_write_file(cfg, "[default]\nregion = eu-north-1\n"
                                          "output = json\n"),
                 0);
    snprintf(text, sizeof text,
             "[default]\naws_access_key_id = %s\naws_secret_access_key = "
             "%s\n%s%s%s",
             akid ? akid : "", secret ? secret : "",
             token ? "aws_session_token = " : "", token ? token : "",
             token ? "\n" : "");
    cr_assert_eq(tsupport_write_file(creds, akid ? text : ""), 0);
    snprintf(out, n,
             "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "
             "-u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_CONFIG_FILE='%s' "
             "AWS_SHARED_CREDENTIALS_FILE='%s' AWS_EC2_METADATA_DISABLED=true "
             "AWS_DEFAULT_REGION=eu-north-1 AWS_MAX_ATTEMPTS=1 "
             "AWS_RETRY_MODE=standard",
             cfg, creds);
}

#endif
