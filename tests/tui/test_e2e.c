/*
 * End to end in a real terminal: labgate-tui runs inside tmux (80x24 and
 * 200x50) against the real labgate-server on a loopback port, results are
 * posted with the curl command-line client, and the pane is read back
 * with tmux capture-pane.  Each test has its own tmux socket (-L) so
 * tests never see each other's panes.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tissuer.h"
#include "tsupport.h"

#ifndef LABGATE_TUI_BIN
#error "LABGATE_TUI_BIN must name the labgate-tui binary"
#endif

static struct tsrv srv;
static struct tissuer *ti;
static char sock[64];

/* The server trusts a test OIDC issuer, so the JWT route takes posts. */
static void
setup(void)
{
    static int seq;
    char cfg[2048];

    ti = tissuer_start();
    tsrv_init(&srv);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"x.db\",\"iam\":{},"
             "\"jwt\":{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":"
             "[\"lab-api\"],\"algorithms\":[\"RS256\"],"
             "\"allow_insecure_http\":true}]}}",
             tissuer_url(ti));
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
    snprintf(sock, sizeof sock, "labgate-e2e-%d-%d", (int)getpid(), ++seq);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
teardown(void)
{
    sh("tmux -L %s kill-server 2>/dev/null", sock);
    if (srv.pid > 0)
        tsrv_stop(&srv);
    tsrv_cleanup(&srv);
    tissuer_free(ti);
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 120);

/* Start the dashboard in a w x h pane; the shell reports its exit. */
static void
tui_start(int w, int h, const char *extra)
{
    cr_assert_eq(sh("tmux -L %s -f /dev/null new-session -d -x %d -y %d "
                    "\"env LANG=C.UTF-8 LC_ALL=C.UTF-8 %s --server %s %s; "
                    "echo EXIT=\\$?; sleep 600\"",
                    sock, w, h, LABGATE_TUI_BIN, srv.base, extra ? extra : ""),
                 0);
}

static void
capture(char *out, size_t n)
{
    char cmd[256];
    FILE *p;
    size_t len;

    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t 0", sock);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    pclose(p);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait up to seconds for needle in the pane; returns 1 when it shows. */
static int
wait_for(const char *needle, double seconds, char *screen, size_t n)
{
    double end = now_s() + seconds;

    do {
        capture(screen, n);
        if (strstr(screen, needle) != NULL)
            return 1;
        usleep(25000);
    } while (now_s() < end);
    return 0;
}

static void
expect_screen(const char *needle, double seconds)
{
    char screen[32768];

    cr_assert(wait_for(needle, seconds, screen, sizeof screen),
              "\"%s\" not on screen within %.1f s:\n%s", needle, seconds,
              screen);
}

static void
keys(const char *k)
{
    cr_assert_eq(sh("tmux -L %s send-keys -t 0 %s", sock, k), 0);
}

/* POST with the curl client, with a bearer token when token is set. */
static int
curl_post_auth(const char *route, const char *body, const char *token)
{
    char cmd[8192], out[64] = "", auth[4096] = "";
    FILE *p;

    if (token != NULL)
        snprintf(auth, sizeof auth, "-H 'Authorization: Bearer %s' ", token);
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -X POST %s"
             "-H 'content-type: application/json' --data-binary '%s' %s%s",
             auth, body, srv.base, route);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    if (fgets(out, sizeof out, p) == NULL)
        out[0] = '\0';
    pclose(p);
    return atoi(out);
}

/* POST with the curl client; returns the HTTP status. */
static int
curl_post(const char *route, const char *body)
{
    return curl_post_auth(route, body, NULL);
}

Test(e2e, matrix_feed_and_detail_show_a_post_within_one_second_at_80x24)
{
    tui_start(80, 24, NULL);
    expect_screen("live", 5);
    expect_screen("No results yet", 1);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"e2e-suite\",\"status\":\"fail\"}"),
                 201);
    expect_screen("e2e-suite            FAIL 0/1 0s F", 1);
    expect_screen("1 suites pass 0 fail 1 error 0 skip 0", 1);
    keys("2");
    expect_screen("e2e-suite            fail   open 127.0.0.1 curl/", 1);
    keys("Enter");
    expect_screen("Result 1: the stored row and who posted it", 2);
    expect_screen(" principal        127.0.0.1", 1);
    expect_screen(" source_addr      127.0.0.1", 1);
    expect_screen("\"suite\": \"e2e-suite\"", 1);
    keys("Escape");
    expect_screen("WHO (repository", 1);
    keys("1");
    expect_screen("SUITE                OPEN (none)", 1);
}

Test(e2e, wide_pane_shows_each_route_the_server_supports_at_200x50)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *token = tissuer_token(ti, TISSUER_KID_RSA, claims);
    int iam;

    tui_start(200, 50, NULL);
    expect_screen("live", 5);
    cr_assert_eq(
        curl_post("/lab/results", "{\"suite\":\"wide\",\"status\":\"pass\"}"),
        201);
    expect_screen("wide                                     pass 1/0 0s P", 1);
    cr_assert_eq(curl_post_auth("/lab/results-secure",
                                "{\"suite\":\"wide\",\"status\":\"fail\"}",
                                token),
                 201);
    expect_screen("wide                                     pass 1/0 0s P"
                  "                                        FAIL 0/1 0s F",
                  1);
    /* The IAM route answers 501 on this build; its column stays blank. */
    iam = curl_post("/lab/results-ci",
                    "{\"suite\":\"wide\",\"status\":\"pass\"}");
    cr_assert(iam == 501 || iam == 403 || iam == 401, "iam answered %d", iam);
    keys("2");
    expect_screen("fail   jwt  octo-org/octo-repo (octo-org)", 1);
    keys("Enter");
    expect_screen(" repository       octo-org/octo-repo", 2);
    expect_screen(
        " subject          repo:octo-org/octo-repo:ref:refs/heads/main", 1);
    free(claims);
    free(token);
}

Test(e2e, resize_redraws_and_says_when_too_small)
{
    tui_start(80, 24, NULL);
    expect_screen("live", 5);
    cr_assert_eq(sh("tmux -L %s resize-window -t 0 -x 50 -y 10", sock), 0);
    expect_screen("Terminal too small: 50x10.", 2);
    cr_assert_eq(sh("tmux -L %s resize-window -t 0 -x 200 -y 50", sock), 0);
    expect_screen("SUITE                                    OPEN (none)", 2);
    cr_assert_eq(sh("tmux -L %s resize-window -t 0 -x 80 -y 24", sock), 0);
    expect_screen("SUITE                OPEN (none)", 2);
}

Test(e2e, stopped_server_marks_data_stale_and_restart_recovers)
{
    char listen[64];
    const char *extra[] = {"--listen", listen, NULL};

    tui_start(80, 24, NULL);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"keep-me\",\"status\":\"pass\"}"),
                 201);
    expect_screen("keep-me", 5);
    cr_assert_eq(tsrv_stop(&srv), 0);
    expect_screen("STALE", 3);
    expect_screen("connection refused, retry in", 3);
    expect_screen("keep-me", 1); /* the last data stays on screen */
    snprintf(listen, sizeof listen, "127.0.0.1:%d", srv.port);
    cr_assert_eq(tsrv_start(&srv, extra), 0, "restart on the same port");
    expect_screen("live", 8);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"after-restart\",\"status\":"
                           "\"pass\"}"),
                 201);
    expect_screen("after-restart", 1);
}

Test(e2e, escape_sequences_in_posted_data_are_shown_escaped)
{
    char screen[32768];

    tui_start(120, 30, NULL);
    expect_screen("live", 5);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"hostile\",\"status\":\"pass\","
                           "\"message\":\"x\\u001b[2J\\u001b]0;pwn\\u0007y\"}"),
                 201);
    keys("2");
    expect_screen("x\\x1b[2J\\x1b]0;pwn\\x07y", 1);
    keys("Enter");
    expect_screen(" message          x\\x1b[2J\\x1b]0;pwn\\x07y", 2);
    /* Had the sequence reached the terminal, ESC ]0; would have set the
     * pane title and ESC [2J cleared the screen. */
    capture(screen, sizeof screen);
    cr_assert(strstr(screen, "labgate http://") != NULL, "%s", screen);
    cr_assert_neq(sh("tmux -L %s display -p -t 0 '#{pane_title}' | "
                     "grep -q pwn",
                     sock),
                  0);
}

/* The dashboard's pid: the child of the pane's shell. */
static int
tui_pid(void)
{
    char cmd[256], path[128], buf[64] = "";
    FILE *p;
    int shell;

    snprintf(cmd, sizeof cmd, "tmux -L %s display -p -t 0 '#{pane_pid}'", sock);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(buf, sizeof buf, p));
    pclose(p);
    shell = atoi(buf);
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", shell, shell);
    p = fopen(path, "r");
    cr_assert_not_null(p);
    buf[0] = '\0';
    cr_assert_not_null(fgets(buf, sizeof buf, p), "no child of %d", shell);
    fclose(p);
    return atoi(buf);
}

static void
expect_restored_after(int sig, const char *exit_line)
{
    char fmt[64] = "";
    FILE *p;
    char cmd[256];

    tui_start(80, 24, NULL);
    expect_screen("live", 5);
    cr_assert_eq(kill(tui_pid(), sig), 0);
    expect_screen(exit_line, 5);
    snprintf(cmd, sizeof cmd,
             "tmux -L %s display -p -t 0 '#{alternate_on} #{cursor_flag}'",
             sock);
    p = popen(cmd, "r");
    cr_assert_not_null(fgets(fmt, sizeof fmt, p));
    pclose(p);
    cr_assert_str_eq(fmt, "0 1\n", "alternate screen / cursor not restored");
}

Test(e2e, sigterm_restores_the_terminal)
{
    expect_restored_after(SIGTERM, "EXIT=143");
}

Test(e2e, crash_restores_the_terminal)
{
    expect_restored_after(SIGSEGV, "EXIT=139");
}

Test(e2e, q_quits_with_status_0)
{
    tui_start(80, 24, NULL);
    expect_screen("live", 5);
    keys("q");
    expect_screen("EXIT=0", 5);
}

/* Run labgate-tui --once EXTRA; returns the exit status, output in out. */
static int
run_once_with(const char *base, const char *extra, char *out, size_t n)
{
    char cmd[512];
    FILE *p;
    size_t len;
    int st;

    snprintf(cmd, sizeof cmd, "%s --once --server %s %s 2>&1",
             LABGATE_TUI_BIN, base, extra);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
run_once(const char *base, char *out, size_t n)
{
    return run_once_with(base, "", out, n);
}

/*
 * A team's gate: --suite-prefix shows and judges only its suites, on
 * the plain --once output and on the live screen, where results of other
 * suites still arrive in the feed and must be dropped.
 */
Test(e2e, suite_prefix_shows_and_judges_only_those_suites)
{
    char out[8192], screen[32768];

    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"team-a/unit\",\"status\":\"pass\"}"),
                 201);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"team-b/unit\",\"status\":\"fail\"}"),
                 201);
    cr_assert_eq(run_once(srv.base, out, sizeof out), 1, "%s", out);
    cr_assert_eq(run_once_with(srv.base, "--suite-prefix team-a/", out,
                               sizeof out),
                 0, "%s", out);
    cr_assert(strstr(out, "team-a/unit") != NULL, "%s", out);
    cr_assert(strstr(out, "team-b") == NULL, "%s", out);
    cr_assert(strstr(out, "1 suites, pass 1, fail 0, error 0, skip 0") !=
                  NULL,
              "%s", out);
    cr_assert_eq(run_once_with(srv.base, "--suite-prefix team-c/", out,
                               sizeof out),
                 2, "%s", out);
    cr_assert_str_eq(out, "labgate-tui: no suite starts with \"team-c/\"\n");
    cr_assert_eq(run_once_with(srv.base, "--suite-prefix ''", out,
                               sizeof out),
                 2, "%s", out);
    cr_assert(strstr(out, "--suite-prefix: expected 1 to 512 bytes") !=
                  NULL,
              "%s", out);

    tui_start(100, 24, "--suite-prefix team-a/");
    expect_screen("team-a/unit", 5);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"team-b/live\",\"status\":\"fail\"}"),
                 201);
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"team-a/live\",\"status\":\"pass\"}"),
                 201);
    expect_screen("team-a/live", 5);
    capture(screen, sizeof screen);
    cr_assert(strstr(screen, "team-b") == NULL, "%s", screen);
}

Test(e2e, once_prints_plain_text_and_exits_1_on_failure)
{
    char out[8192];

    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"ok-suite\",\"status\":\"pass\"}"),
                 201);
    cr_assert_eq(run_once(srv.base, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "ok-suite") != NULL, "%s", out);
    cr_assert_null(strchr(out, '\x1b'), "escape codes in plain output");
    cr_assert_eq(curl_post("/lab/results",
                           "{\"suite\":\"bad-suite\",\"status\":\"error\"}"),
                 201);
    cr_assert_eq(run_once(srv.base, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "bad-suite                 ERR! 0/0 0s E") != NULL,
              "%s", out);
    cr_assert(strstr(out, "1 suites") == NULL);
    cr_assert(strstr(out, "2 suites, pass 1, fail 0, error 1, skip 0") != NULL,
              "%s", out);
}

Test(e2e, once_exits_2_when_the_server_cannot_be_read)
{
    char out[4096], base[64];

    snprintf(base, sizeof base, "%s", srv.base);
    cr_assert_eq(tsrv_stop(&srv), 0);
    srv.pid = 0;
    cr_assert_eq(run_once(base, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "/lab/summary: connection refused") != NULL, "%s",
              out);
}

/* Run labgate-tui with env prefix and args; output in out, exit status. */
static int
run_tui(const char *env, const char *args, char *out, size_t n)
{
    char cmd[1024];
    FILE *p;
    size_t len;
    int st;

    snprintf(cmd, sizeof cmd, "env -u LABGATE_TOKEN %s %s %s 2>&1", env,
             LABGATE_TUI_BIN, args);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --token and LABGATE_TOKEN send the read credential a server that is
 * not loopback-only needs (SHA-256 of "tui-read-token" configured). */
Test(e2e, token_option_and_environment_send_the_read_credential)
{
    const char *extra[] = {"--listen", "0.0.0.0:0", NULL};
    char args[512], out[4096];

    cr_assert_eq(tsrv_stop(&srv), 0);
    tsupport_write_file(srv.config,
                        "{\"listen\":\"127.0.0.1:0\",\"database\":\"x.db\","
                        "\"jwt\":{},\"iam\":{},\"read\":{\"token_sha256\":"
                        "[\"d572d49f3f2acc3ad1bb4cb0aac2e2dcc5a065f6f2e4ee74"
                        "042b24b6d4992375\"]}}");
    cr_assert_eq(tsrv_start(&srv, extra), 0);
    cr_assert_eq(
        curl_post("/lab/results", "{\"suite\":\"tok\",\"status\":\"pass\"}"),
        201);
    snprintf(args, sizeof args, "--once --server %s", srv.base);
    cr_assert_eq(run_tui("", args, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "HTTP 401: read access needs a credential") != NULL,
              "%s", out);
    cr_assert_eq(run_tui("LABGATE_TOKEN=tui-read-token", args, out, sizeof out),
                 0, "%s", out);
    cr_assert(strstr(out, "tok ") != NULL, "%s", out);
    snprintf(args, sizeof args, "--once --token tui-read-token --server %s",
             srv.base);
    cr_assert_eq(run_tui("", args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "--once --token wrong --server %s", srv.base);
    cr_assert_eq(run_tui("", args, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "HTTP 401: read token not recognised") != NULL, "%s",
              out);
}
