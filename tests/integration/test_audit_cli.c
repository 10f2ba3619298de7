/*
 * `labgate-server audit` as a user runs it: results posted over HTTP (the
 * open route) plus JWT and IAM identities written through the store API
 * (those routes answer 501 on this branch), then verify and export from
 * the command line.  The CSV is read back with Python's csv module, a
 * real RFC 4180 reader, and every identity field is compared with the
 * JSON lines export and with what was stored.  Also: tampering and a
 * wrong key through the CLI, the server refusing a wrong or readable key,
 * identity filters over HTTP, and background retention.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "tsupport.h"

static struct tsrv srv;

static void
setup(void)
{
    log_set_level(LOG_ERROR);
    tsrv_init(&srv);
}

static void
teardown(void)
{
    tsrv_cleanup(&srv);
}

TestSuite(audit_cli, .init = setup, .fini = teardown, .timeout = 120);

static const char *const post_bodies[] = {
    "{\"status\":\"pass\",\"suite\":\"unit\"}",
    "{\"status\":\"fail\",\"suite\":\"a, \\\"b\\\"\",\"message\":"
    "\"line one\\nline two, with \\\"quotes\\\"\"}",
    "{\"status\":\"skip\",\"suite\":\"\\u00e9t\\u00e9 \\u2713\"}",
};

/* Post the open-route results over real HTTP; checks the chain value. */
static void
post_open_results(void)
{
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        struct tresp r;
        json_t *j, *got;
        char path[64];
        cr_assert_eq(thttp_post_json(&srv, "/lab/results", post_bodies[i], &r),
                     0);
        cr_assert_eq(r.status, 201, "%s", r.body);
        j = json_loads(r.body, 0, NULL);
        cr_assert_eq(strlen(json_string_value(json_object_get(j, "chain"))), 64,
                     "%s", r.body);
        tresp_free(&r);
        snprintf(path, sizeof path, "/lab/results/%lld",
                 json_integer_value(json_object_get(j, "id")));
        cr_assert_eq(thttp_get(&srv, path, &r), 0);
        got = json_loads(r.body, 0, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(got, "chain")),
                         json_string_value(json_object_get(j, "chain")));
        json_decref(got);
        json_decref(j);
        tresp_free(&r);
    }
    cr_assert_eq(tsrv_stop(&srv), 0);
}

/* What the JWT and IAM routes record, written through the store API. */
static void
put_identity(struct store *st, enum result_auth auth, int64_t ms)
{
    struct result r;
    struct err e = {0, ""};

    memset(&r, 0, sizeof r);
    r.received_ms = ms;
    r.suite = strdup(auth == RESULT_AUTH_JWT ? "secure" : "ci");
    r.status = auth == RESULT_AUTH_JWT ? RESULT_PASS : RESULT_ERROR;
    r.auth = auth;
    r.payload = strdup("{\"status\":\"pass\",\"suite\":\"x\"}");
    r.ident.source_addr = strdup("::1");
    r.ident.user_agent = strdup("agent, with comma");
    r.ident.request_id = strdup(auth == RESULT_AUTH_JWT ? "rq-j" : "rq-i");
    if (auth == RESULT_AUTH_JWT) {
        r.route = strdup("/lab/results-secure");
        r.ident.issuer = strdup("https://token.actions.githubusercontent.com");
        r.ident.subject = strdup("repo:octo/lab:ref:refs/heads/main");
        r.ident.repository = strdup("octo/lab");
        r.ident.owner = strdup("octo");
        r.ident.claims = strdup("{\"sub\":\"repo:octo/lab:ref:refs/heads/"
                                "main\",\"aud\":\"lab-api\"}");
    } else {
        r.route = strdup("/lab/results-ci");
        r.ident.issuer = strdup("https://token.actions.githubusercontent.com");
        r.ident.principal_arn = strdup("arn:aws:iam::123456789012:role/ci");
        r.ident.caller_arn =
            strdup("arn:aws:sts::123456789012:assumed-role/ci/run-7");
        r.ident.account = strdup("123456789012");
        r.ident.access_key_id = strdup("ASIAEXAMPLEKEY");
        r.ident.session_name = strdup("run-7");
    }
    cr_assert_eq(result_set_principal(&r), 0);
    cr_assert_eq(store_insert(st, &r, &e), 0, "%s", e.msg);
    result_free(&r);
}

static void
put_identities(int64_t ms)
{
    struct store_options o = {srv.db, 16, 100, 1, NULL, 0, 0, 0};
    struct store *st = NULL;
    struct err e = {0, ""};

    cr_assert_eq(store_open(&st, &o, &e), 0, "%s", e.msg);
    put_identity(st, RESULT_AUTH_JWT, ms);
    put_identity(st, RESULT_AUTH_IAM, ms + 1);
    store_close(st);
}

static void
expect_prefix(const char *out, const char *prefix)
{
    cr_assert(strncmp(out, prefix, strlen(prefix)) == 0, "%s", out);
}

static int
cli(char *out, size_t n, const char *a1, const char *a2, const char *a3,
    const char *a4)
{
    const char *args[] = {"audit", a1, "--db", srv.db, a2, a3, a4, NULL};

    return tsrv_run_cli(args, out, n);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command line; returns its exit status. */
static int
sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static json_t *
load_jsonl(const char *path)
{
    json_t *list = json_array();
    char line[16384];
    FILE *f = fopen(path, "r");

    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "bad JSON line: %s", line);
        json_array_append_new(list, j);
    }
    fclose(f);
    return list;
}

/* The JSON line's value of name as the CSV shows it. */
static char *
json_field_text(json_t *row, const char *name)
{
    static const char *const top[] = {"id",        "received_at", "route",
                                      "auth",      "suite",       "status",
                                      "principal", "payload",     "chain"};
    json_t *v = NULL;

    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (strcmp(name, top[i]) == 0)
            v = json_object_get(row, name);
    if (v == NULL)
        v = json_object_get(json_object_get(row, "identity"), name);
    if (v == NULL || json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static void
compare_exports(json_t *csv, json_t *jsonl)
{
    cr_assert_eq(json_array_size(csv), json_array_size(jsonl));
    for (size_t i = 0; i < json_array_size(csv); i++) {
        json_t *c = json_array_get(csv, i), *j = json_array_get(jsonl, i);
        const char *name;
        json_t *v;
        cr_assert_eq(json_object_size(c), 22, "CSV has %zu columns",
                     json_object_size(c));
        json_object_foreach(c, name, v)
        {
            char *want = json_field_text(j, name);
            cr_assert_str_eq(json_string_value(v), want, "row %zu column %s", i,
                             name);
            free(want);
        }
    }
}

static const char *
csv_get(json_t *csv, size_t row, const char *col)
{
    return json_string_value(json_object_get(json_array_get(csv, row), col));
}

Test(audit_cli, export_of_all_three_routes_round_trips_through_csv)
{
    char csv[600], jsonl[600], parsed[600], out[4096];
    json_t *c, *j;

    post_open_results();
    put_identities(1764781200000LL);
    snprintf(csv, sizeof csv, "%s/out.csv", srv.dir);
    snprintf(jsonl, sizeof jsonl, "%s/out.jsonl", srv.dir);
    snprintf(parsed, sizeof parsed, "%s/csv.json", srv.dir);
    cr_assert_eq(sh("'%s' audit export --format csv --db '%s' > '%s'",
                    LABGATE_SERVER_BIN, srv.db, csv),
                 0);
    cr_assert_eq(sh("'%s' audit export --db '%s' > '%s'", LABGATE_SERVER_BIN,
                    srv.db, jsonl),
                 0);
    cr_assert_eq(sh("python3 -c 'import csv, json, sys; "
                    "print(json.dumps(list(csv.DictReader(open(sys.argv[1], "
                    "newline=\"\", encoding=\"utf-8\")))))' '%s' > '%s'",
                    csv, parsed),
                 0);
    c = json_load_file(parsed, 0, NULL);
    j = load_jsonl(jsonl);
    cr_assert_eq(json_array_size(c), 5);
    compare_exports(c, j);
    /* The values themselves, for each route. */
    cr_assert_str_eq(csv_get(c, 1, "suite"), "a, \"b\"");
    cr_assert_str_eq(csv_get(c, 2, "suite"), "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
    cr_assert_str_eq(csv_get(c, 0, "source_addr"), "127.0.0.1");
    cr_assert_str_eq(csv_get(c, 0, "auth"), "none");
    cr_assert_str_eq(csv_get(c, 3, "route"), "/lab/results-secure");
    cr_assert_str_eq(csv_get(c, 3, "repository"), "octo/lab");
    cr_assert_str_eq(csv_get(c, 3, "owner"), "octo");
    cr_assert_str_eq(csv_get(c, 3, "subject"),
                     "repo:octo/lab:ref:refs/heads/main");
    cr_assert_str_eq(csv_get(c, 3, "principal"),
                     "repo:octo/lab:ref:refs/heads/main");
    cr_assert_str_eq(csv_get(c, 3, "claims"),
                     "{\"sub\":\"repo:octo/lab:ref:refs/heads/main\","
                     "\"aud\":\"lab-api\"}");
    cr_assert_str_eq(csv_get(c, 3, "received_at"), "2025-12-03T17:00:00.000Z");
    cr_assert_str_eq(csv_get(c, 4, "auth"), "iam");
    cr_assert_str_eq(csv_get(c, 4, "status"), "error");
    cr_assert_str_eq(csv_get(c, 4, "principal_arn"),
                     "arn:aws:iam::123456789012:role/ci");
    cr_assert_str_eq(csv_get(c, 4, "caller_arn"),
                     "arn:aws:sts::123456789012:assumed-role/ci/run-7");
    cr_assert_str_eq(csv_get(c, 4, "account"), "123456789012");
    cr_assert_str_eq(csv_get(c, 4, "access_key_id"), "ASIAEXAMPLEKEY");
    cr_assert_str_eq(csv_get(c, 4, "session_name"), "run-7");
    cr_assert_str_eq(csv_get(c, 4, "user_agent"), "agent, with comma");
    cr_assert_eq(strlen(csv_get(c, 4, "chain")), 64);
    json_decref(c);
    json_decref(j);
    cr_assert_eq(cli(out, sizeof out, "verify", NULL, NULL, NULL), 0, "%s",
                 out);
    expect_prefix(out, "audit verify: ok: 5 rows checked (ids 1 to 5), from "
                       "the genesis value, head id 5, key id ");
}

Test(audit_cli, verify_names_the_tampered_row_and_exits_1)
{
    char out[4096];

    post_open_results();
    cr_assert_eq(sh("sqlite3 '%s' \"UPDATE results SET status = 'pass' "
                    "WHERE id = 2\"",
                    srv.db),
                 0);
    cr_assert_eq(cli(out, sizeof out, "verify", NULL, NULL, NULL), 1, "%s",
                 out);
    cr_assert_str_eq(out, "audit verify: FAILED: row 2 was modified: its "
                          "contents no longer match its chain value (1 rows "
                          "verified before it)\n");
}

Test(audit_cli, verify_with_the_wrong_key_exits_3_saying_so)
{
    char out[4096], key[600], expect[1024];

    post_open_results();
    snprintf(key, sizeof key, "%s/wrong.key", srv.dir);
    tsupport_write_file(key, "ffffffffffffffffffffffffffffffffffffffffffffffff"
                             "ffffffffffffffff\n");
    chmod(key, 0600);
    cr_assert_eq(cli(out, sizeof out, "verify", "--key", key, NULL), 3, "%s",
                 out);
    snprintf(expect, sizeof expect,
             "labgate-server audit verify: audit key %s (key id ", key);
    cr_assert(strncmp(out, expect, strlen(expect)) == 0, "%s", out);
    cr_assert(strstr(out, "does not match this database's chain") != NULL, "%s",
              out);
}

Test(audit_cli, server_refuses_a_wrong_or_readable_key)
{
    char out[4096], key[600], cfg[1200];
    const char *args[] = {"--config", srv.config, "--listen", "127.0.0.1:0",
                          "--db",     srv.db,     NULL};

    post_open_results();
    snprintf(key, sizeof key, "%s/wrong.key", srv.dir);
    tsupport_write_file(key, "0000000000000000000000000000000000000000000000"
                             "000000000000000000\n");
    chmod(key, 0600);
    snprintf(srv.config, sizeof srv.config, "%s/c.json", srv.dir);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"x\",\"jwt\":{},"
             "\"iam\":{},\"audit\":{\"key_file\":\"%s\"}}",
             key);
    tsupport_write_file(srv.config, cfg);
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "does not match this database's chain") != NULL, "%s",
              out);
    chmod(key, 0644);
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "has mode 0644: only its owner may read it") != NULL,
              "%s", out);
}

Test(audit_cli, list_filters_by_identity_over_http)
{
    static const char *const queries[] = {
        "repository=octo%2Flab",
        "owner=octo",
        "subject=repo%3Aocto%2Flab%3Aref%3Arefs%2Fheads%2Fmain",
        "principal_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci",
        "caller_arn=arn%3Aaws%3Asts%3A%3A123456789012%3Aassumed-role%2Fci%2F"
        "run-7",
        "account=123456789012",
        "access_key_id=ASIAEXAMPLEKEY",
        "session_name=run-7",
        "auth=iam",
    };
    char path[512];

    put_identities(1764781200000LL);
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct tresp r;
        json_t *j, *list;
        snprintf(path, sizeof path, "/lab/results?%s", queries[i]);
        cr_assert_eq(thttp_get(&srv, path, &r), 0);
        cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
        j = json_loads(r.body, 0, NULL);
        list = json_object_get(j, "results");
        cr_assert_eq(json_array_size(list), 1, "%s: %s", path, r.body);
        cr_assert_eq(strlen(json_string_value(
                         json_object_get(json_array_get(list, 0), "chain"))),
                     64);
        json_decref(j);
        tresp_free(&r);
    }
    cr_assert_eq(tsrv_stop(&srv), 0);
}

Test(audit_cli, retention_prunes_old_results_and_verify_still_passes)
{
    char out[4096];
    int n = -1;

    put_identities(1000000000000LL); /* 2001: due for pruning */
    snprintf(srv.config, sizeof srv.config, "%s/c.json", srv.dir);
    tsupport_write_file(srv.config,
                        "{\"listen\":\"127.0.0.1:0\",\"database\":\"x\","
                        "\"jwt\":{},\"iam\":{},\"audit\":{\"retention_days\":"
                        "30}}");
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    for (int i = 0; i < 1000 && n != 0; i++) {
        n = tsrv_count_rows(&srv, "");
        usleep(10000);
    }
    cr_assert_eq(n, 0, "the pruner left %d rows", n);
    {
        struct tresp r;
        cr_assert_eq(thttp_post_json(&srv, "/lab/results", post_bodies[0], &r),
                     0);
        cr_assert_eq(r.status, 201);
        tresp_free(&r);
    }
    cr_assert_eq(tsrv_stop(&srv), 0);
    cr_assert_eq(cli(out, sizeof out, "verify", NULL, NULL, NULL), 0, "%s",
                 out);
    expect_prefix(out, "audit verify: ok: 1 rows checked (ids 3 to 3), from "
                       "the checkpoint at id 2, head id 3, key id ");
}

Test(audit_cli, usage_errors_exit_2)
{
    char out[4096];
    const char *none[] = {"audit", NULL};
    const char *bad[] = {"audit", "export", "--format", "xml", NULL};
    const char *mix[] = {"audit", "verify", "--since", "2026-01-01", NULL};
    const char *when[] = {"audit", "export", "--since", "soon", NULL};

    cr_assert_eq(tsrv_run_cli(none, out, sizeof out), 2);
    cr_assert(strstr(out, "usage: labgate-server audit verify") != NULL, "%s",
              out);
    cr_assert_eq(tsrv_run_cli(bad, out, sizeof out), 2);
    cr_assert_str_eq(out, "labgate-server audit export: --format: expected "
                          "jsonl or csv\n");
    cr_assert_eq(tsrv_run_cli(mix, out, sizeof out), 2);
    cr_assert_str_eq(out, "labgate-server audit verify: --since, --until and "
                          "--format belong to export\n");
    cr_assert_eq(tsrv_run_cli(when, out, sizeof out), 2);
    cr_assert_str_eq(out, "labgate-server audit export: --since: expected an "
                          "ISO 8601 UTC time or epoch ms\n");
}

Test(audit_cli, configured_key_file_is_used_by_server_and_verify)
{
    char out[4096], key[600], cfg[1400];
    const char *args[] = {"audit", "verify", "--config", srv.config, NULL};
    struct stat sb;

    snprintf(key, sizeof key, "%s/secret/audit.key", srv.dir);
    snprintf(out, sizeof out, "%s/secret", srv.dir);
    cr_assert_eq(mkdir(out, 0700), 0);
    snprintf(srv.config, sizeof srv.config, "%s/c.json", srv.dir);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"%s\",\"jwt\":{},"
             "\"iam\":{},\"audit\":{\"key_file\":\"%s\"}}",
             srv.db, key);
    tsupport_write_file(srv.config, cfg);
    post_open_results();
    cr_assert_eq(stat(key, &sb), 0, "the configured key file was not made");
    cr_assert_eq(sb.st_mode & 0777, 0600);
    snprintf(out, sizeof out, "%s.key", srv.db);
    cr_assert_neq(access(out, F_OK), 0, "a default key file was made too");
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 0, "%s", out);
    expect_prefix(out, "audit verify: ok: 3 rows checked (ids 1 to 3), from "
                       "the genesis value, head id 3, key id ");
}
