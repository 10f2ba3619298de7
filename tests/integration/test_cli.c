/*
 * labgate-server's command line: help, version, and configuration errors
 * that stop it with exit status 2 before it listens.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tsupport.h"

Test(cli, help_lists_the_flags)
{
    const char *args[] = {"--help", NULL};
    char out[4096];

    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 0);
    cr_assert(strstr(out, "--config FILE") != NULL, "%s", out);
    cr_assert(strstr(out, "--listen HOST:PORT") != NULL);
    cr_assert(strstr(out, "--db PATH") != NULL);
}

Test(cli, version_prints_the_version)
{
    const char *args[] = {"--version", NULL};
    char out[256];

    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 0);
    cr_assert_str_eq(out, "labgate-server " LABGATE_VERSION "\n");
}

Test(cli, unknown_flag_exits_2)
{
    const char *args[] = {"--frobnicate", NULL};
    char out[4096];

    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2);
    cr_assert(strstr(out, "usage:") != NULL, "%s", out);
}

static void
expect_config_error(const char *text, const char *message)
{
    struct tsrv s;
    char out[4096], expect[512];
    const char *args[] = {"--config", s.config, NULL};

    tsrv_init(&s);
    snprintf(s.config, sizeof s.config, "%s/c.json", s.dir);
    tsupport_write_file(s.config, text);
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2, "%s", out);
    snprintf(expect, sizeof expect,
             "labgate-server: configuration error: %s\n", message);
    cr_assert_str_eq(out, expect);
    tsrv_cleanup(&s);
}

Test(cli, bad_configuration_exits_2_naming_the_key)
{
    expect_config_error("{\"listen\":\"127.0.0.1:0\",\"database\":\"x\","
                        "\"jwt\":{},\"iam\":{},\"colour\":\"red\"}",
                        "colour: unknown key");
    expect_config_error("{\"listen\":\"127.0.0.1:0\",\"database\":\"x\","
                        "\"jwt\":{}}",
                        "iam: required key is missing");
    expect_config_error("{\"listen\":\"127.0.0.1:0\",\"database\":\"x\","
                        "\"jwt\":{},\"iam\":{},\"limits\":"
                        "{\"max_body_bytes\":\"big\"}}",
                        "limits.max_body_bytes: expected an integer from "
                        "256 to 16777216");
    expect_config_error("{\"listen\":\"nowhere\",\"database\":\"x\","
                        "\"jwt\":{},\"iam\":{}}",
                        "listen: 'nowhere' is not IPV4:PORT or [IPV6]:PORT "
                        "with a port from 0 to 65535");
}

Test(cli, bad_listen_flag_exits_2)
{
    const char *args[] = {"--listen", "127.0.0.1:99999", NULL};
    char out[4096];

    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2);
    cr_assert(strstr(out, "listen: '127.0.0.1:99999'") != NULL, "%s", out);
}

Test(cli, flags_override_the_file)
{
    struct tsrv s;
    const char *extra[] = {NULL};

    tsrv_init(&s);
    snprintf(s.config, sizeof s.config, "%s/c.json", s.dir);
    /* The file names a bad port; the test harness passes --listen and
     * --db, which must win. */
    tsupport_write_file(s.config, "{\"listen\":\"127.0.0.1:1\","
                                  "\"database\":\"/nonexistent/x.db\","
                                  "\"jwt\":{},\"iam\":{}}");
    cr_assert_eq(tsrv_start(&s, extra), 0);
    cr_assert_eq(tsrv_stop(&s), 0);
    tsrv_cleanup(&s);
}

Test(cli, sigterm_exits_0)
{
    struct tsrv s;
    struct tresp r;

    tsrv_init(&s);
    cr_assert_eq(tsrv_start(&s, NULL), 0);
    cr_assert_eq(thttp_post_json(&s, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"x\"}",
                                 &r),
                 0);
    cr_assert_eq(r.status, 201);
    tresp_free(&r);
    cr_assert_eq(tsrv_stop(&s), 0);
    tsrv_cleanup(&s);
}
