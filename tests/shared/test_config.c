/*
 * Configuration parsing: defaults, required keys, unknown keys, types and
 * ranges, each error naming the key.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *const cfg_minimal =
    "{\"listen\":\"127.0.0.1:9000\",\"database\":\"/tmp/x.db\","
    "\"jwt\":{},\"iam\":{}}";

/* Apply text over fresh defaults; returns the code and fills e. */
static int
apply(struct config *cfg, const char *text, struct err *e)
{
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    int rc;

    cr_assert(config_init(cfg) == 0);
    cr_assert_not_null(root, "test JSON must parse: %s", text);
    err_clear(e);
    rc = config_apply(cfg, root, e);
    json_decref(root);
    return rc;
}

Test(config, defaults_are_safe)
{
    struct config cfg;

    cr_assert_eq(config_init(&cfg), 0);
    cr_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    cr_assert_str_eq(cfg.database, "./labgate.db");
    cr_assert_eq(cfg.limits.max_body_bytes, 65536);
    cr_assert(json_is_object(cfg.jwt) && json_object_size(cfg.jwt) == 0);
    config_free(&cfg);
}

Test(config, minimal_file_sets_listen_and_database)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(apply(&cfg, cfg_minimal, &e), 0, "%s", e.msg);
    cr_assert_str_eq(cfg.listen, "127.0.0.1:9000");
    cr_assert_str_eq(cfg.database, "/tmp/x.db");
    config_free(&cfg);
}

Test(config, missing_required_key_is_named)
{
    static const char *const keys[] = {"listen", "database", "jwt", "iam"};
    struct config cfg;
    struct err e;
    char text[256], expect[64];

    for (size_t i = 0; i < 4; i++) {
        json_t *root = json_loads(cfg_minimal, 0, NULL);
        json_object_del(root, keys[i]);
        char *dump = json_dumps(root, JSON_COMPACT);
        snprintf(text, sizeof text, "%s", dump);
        free(dump);
        json_decref(root);
        cr_assert_eq(apply(&cfg, text, &e), ERR_INVALID);
        snprintf(expect, sizeof expect, "%s: required key is missing",
                 keys[i]);
        cr_assert_str_eq(e.msg, expect);
        config_free(&cfg);
    }
}

Test(config, unknown_top_level_key_is_named)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},\"lisen\":1}",
                       &e),
                 ERR_INVALID);
    cr_assert_str_eq(e.msg, "lisen: unknown key");
    config_free(&cfg);
}

Test(config, wrong_type_is_named)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(apply(&cfg,
                       "{\"listen\":8080,\"database\":\"d\",\"jwt\":{},"
                       "\"iam\":{}}",
                       &e),
                 ERR_INVALID);
    cr_assert_str_eq(e.msg, "listen: expected a string");
    config_free(&cfg);
    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":[],\"iam\":{}}",
                       &e),
                 ERR_INVALID);
    cr_assert_str_eq(e.msg, "jwt: expected an object");
    config_free(&cfg);
}

Test(config, bad_listen_address_is_refused)
{
    static const char *const bad[] = {"8080", "localhost:80", "1.2.3.4:",
                                      "1.2.3.4:70000", "[::1:80",
                                      "1.2.3.4:8x"};
    struct config cfg;
    struct err e;

    cr_assert_eq(config_init(&cfg), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(config_set_listen(&cfg, bad[i], &e), ERR_INVALID,
                     "accepted %s", bad[i]);
        cr_assert(strncmp(e.msg, "listen:", 7) == 0, "%s", e.msg);
    }
    cr_assert_eq(config_set_listen(&cfg, "[::1]:8080", &e), 0);
    cr_assert_eq(config_set_listen(&cfg, "0.0.0.0:0", &e), 0);
    config_free(&cfg);
}

Test(config, limits_are_range_checked)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},"
                       "\"limits\":{\"max_body_bytes\":1024,\"threads\":16}}",
                       &e),
                 0, "%s", e.msg);
    cr_assert_eq(cfg.limits.max_body_bytes, 1024);
    cr_assert_eq(cfg.limits.threads, 16);
    config_free(&cfg);
    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},\"limits\":{\"threads\":0}}",
                       &e),
                 ERR_INVALID);
    cr_assert_str_eq(e.msg,
                     "limits.threads: expected an integer from 4 to 4096");
    config_free(&cfg);
    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},\"limits\":{\"speed\":1}}",
                       &e),
                 ERR_INVALID);
    cr_assert_str_eq(e.msg, "limits.speed: unknown key");
    config_free(&cfg);
}

Test(config, bad_log_level_is_named)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},\"log_level\":\"loud\"}",
                       &e),
                 ERR_INVALID);
    cr_assert(strncmp(e.msg, "log_level:", 10) == 0, "%s", e.msg);
    config_free(&cfg);
}

Test(config, file_with_duplicate_key_is_refused)
{
    char path[] = "/tmp/labgate-cfg-XXXXXX";
    struct config cfg;
    struct err e;
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs("{\"listen\":\"127.0.0.1:1\",\"listen\":\"127.0.0.1:2\","
          "\"database\":\"d\",\"jwt\":{},\"iam\":{}}",
          f);
    fclose(f);
    cr_assert_eq(config_init(&cfg), 0);
    cr_assert_eq(config_load_file(&cfg, path, &e), ERR_INVALID);
    cr_assert(strstr(e.msg, "duplicate") != NULL, "%s", e.msg);
    cr_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    config_free(&cfg);
    unlink(path);
}

Test(config, missing_file_is_reported)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(config_init(&cfg), 0);
    cr_assert_eq(config_load_file(&cfg, "/nonexistent/labgate.json", &e),
                 ERR_INVALID);
    cr_assert(strstr(e.msg, "/nonexistent/labgate.json") != NULL, "%s",
              e.msg);
    config_free(&cfg);
}

Test(config, audit_section_sets_key_file_and_retention)
{
    struct config cfg;
    struct err e;

    cr_assert_eq(config_init(&cfg), 0);
    cr_assert_null(cfg.audit.key_file);
    cr_assert_eq(cfg.audit.retention_days, 0);
    config_free(&cfg);
    cr_assert_eq(apply(&cfg,
                       "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                       "\"jwt\":{},\"iam\":{},\"audit\":{\"key_file\":"
                       "\"/etc/labgate/audit.key\",\"retention_days\":90}}",
                       &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(cfg.audit.key_file, "/etc/labgate/audit.key");
    cr_assert_eq(cfg.audit.retention_days, 90);
    config_free(&cfg);
}

Test(config, bad_audit_settings_are_named)
{
    static const struct {
        const char *audit, *message;
    } cases[] = {
        {"[]", "audit: expected an object"},
        {"{\"key_file\":\"\"}", "audit.key_file: expected a non-empty path"},
        {"{\"key_file\":7}", "audit.key_file: expected a non-empty path"},
        {"{\"retention_days\":-1}",
         "audit.retention_days: expected an integer from 0 to 36500"},
        {"{\"retention_days\":\"30\"}",
         "audit.retention_days: expected an integer from 0 to 36500"},
        {"{\"keep\":1}", "audit.keep: unknown key"},
    };
    struct config cfg;
    struct err e;
    char text[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\","
                 "\"jwt\":{},\"iam\":{},\"audit\":%s}",
                 cases[i].audit);
        cr_assert_eq(apply(&cfg, text, &e), ERR_INVALID, "%s", text);
        cr_assert_str_eq(e.msg, cases[i].message);
        config_free(&cfg);
    }
}
