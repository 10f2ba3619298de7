/*
 * Configuration parsing.  Each setting has one checker that knows its key
 * path, type and range, so every error message names exactly the key that
 * was wrong.  The JSON parser rejects duplicate keys: a file that says the
 * same thing twice is ambiguous and is refused.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int
config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = strdup(CONFIG_DEFAULT_LISTEN);
    cfg->database = strdup(CONFIG_DEFAULT_DATABASE);
    cfg->log_level = LOG_INFO;
    cfg->limits.max_body_bytes = 64 * 1024;
    cfg->limits.max_json_depth = 32;
    cfg->limits.max_json_members = 4096;
    cfg->limits.threads = 128;
    cfg->limits.request_timeout_ms = 10000;
    cfg->limits.keep_alive_timeout_ms = 30000;
    cfg->limits.max_header_bytes = 16384;
    cfg->limits.max_header_count = 48;
    cfg->limits.batch_max = 256;
    cfg->limits.queue_max = 8192;
    cfg->limits.max_watchers = 128;
    cfg->jwt = json_object();
    cfg->iam = json_object();
    cfg->read = json_object();
    cfg->rate_limits = json_object();
    if (!cfg->listen || !cfg->database || !cfg->jwt || !cfg->iam ||
        !cfg->read || !cfg->rate_limits) {
        config_free(cfg);
        return ERR_NOMEM;
    }
    return 0;
}

void
config_free(struct config *cfg)
{
    free(cfg->listen);
    free(cfg->database);
    free(cfg->audit.key_file);
    json_decref(cfg->jwt);
    json_decref(cfg->iam);
    json_decref(cfg->rate_limits);
    free(cfg->trusted_proxies);
    json_decref(cfg->read);
    memset(cfg, 0, sizeof *cfg);
}

int
config_listen_split(const char *listen, char *host, size_t hn, int *port)
{
    const char *colon = strrchr(listen, ':');
    unsigned char addr[16];
    size_t len;
    char *end;
    long p;

    if (colon == NULL || colon == listen || colon[1] == '\0')
        return ERR_INVALID;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535)
        return ERR_INVALID;
    len = (size_t)(colon - listen);
    if (listen[0] == '[') {
        if (len < 3 || listen[len - 1] != ']' || len - 2 >= hn)
            return ERR_INVALID;
        memcpy(host, listen + 1, len - 2);
        host[len - 2] = '\0';
        if (inet_pton(AF_INET6, host, addr) != 1)
            return ERR_INVALID;
    } else {
        if (len >= hn)
            return ERR_INVALID;
        memcpy(host, listen, len);
        host[len] = '\0';
        if (inet_pton(AF_INET, host, addr) != 1)
            return ERR_INVALID;
    }
    *port = (int)p;
    return 0;
}

int
config_set_listen(struct config *cfg, const char *value, struct err *err)
{
    char host[64], *copy;
    int port;

    if (config_listen_split(value, host, sizeof host, &port) != 0)
        return err_set(err, ERR_INVALID,
                       "listen: '%.64s' is not IPV4:PORT or [IPV6]:PORT "
                       "with a port from 0 to 65535",
                       value);
    copy = strdup(value);
    if (copy == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    free(cfg->listen);
    cfg->listen = copy;
    return 0;
}

int
config_set_database(struct config *cfg, const char *value, struct err *err)
{
    char *copy;

    if (value[0] == '\0')
        return err_set(err, ERR_INVALID, "database: the path is empty");
    copy = strdup(value);
    if (copy == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    free(cfg->database);
    cfg->database = copy;
    return 0;
}

static int
config_int(json_t *v, const char *key, long long lo, long long hi,
           long long *out, struct err *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return err_set(err, ERR_INVALID,
                       "%s: expected an integer from %lld to %lld", key, lo,
                       hi);
    *out = json_integer_value(v);
    return 0;
}

struct config_limit_key {
    const char *name;
    long long lo, hi;
    size_t offset;
    int is_size;
};

#define CONFIG_LIMIT(f, lo, hi, sz)                                           \
    {#f, lo, hi, offsetof(struct config_limits, f), sz}

static const struct config_limit_key config_limit_keys[] = {
    CONFIG_LIMIT(max_body_bytes, 256, 16 * 1024 * 1024, 1),
    CONFIG_LIMIT(max_json_depth, 2, 256, 0),
    CONFIG_LIMIT(max_json_members, 16, 1000000, 0),
    CONFIG_LIMIT(threads, 4, 4096, 0),
    CONFIG_LIMIT(request_timeout_ms, 100, 600000, 0),
    CONFIG_LIMIT(keep_alive_timeout_ms, 0, 3600000, 0),
    CONFIG_LIMIT(max_header_bytes, 1024, 1024 * 1024, 0),
    /* CivetWeb keeps 64 fields at most; one more must stay detectable. */
    CONFIG_LIMIT(max_header_count, 1, 63, 0),
    CONFIG_LIMIT(batch_max, 1, 10000, 0),
    CONFIG_LIMIT(queue_max, 1, 1000000, 0),
    CONFIG_LIMIT(max_watchers, 0, 4096, 0),
};

static int
config_limits(struct config_limits *lim, json_t *obj, struct err *err)
{
    const char *key;
    json_t *v;
    char path[96];
    long long n = 0;

    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "limits: expected an object");
    json_object_foreach(obj, key, v) {
        const struct config_limit_key *k = NULL;
        for (size_t i = 0; i < sizeof config_limit_keys /
                                   sizeof config_limit_keys[0];
             i++)
            if (strcmp(config_limit_keys[i].name, key) == 0)
                k = &config_limit_keys[i];
        snprintf(path, sizeof path, "limits.%.64s", key);
        if (k == NULL)
            return err_set(err, ERR_INVALID, "%s: unknown key", path);
        if (config_int(v, path, k->lo, k->hi, &n, err) != 0)
            return ERR_INVALID;
        if (k->is_size)
            *(size_t *)((char *)lim + k->offset) = (size_t)n;
        else
            *(int *)((char *)lim + k->offset) = (int)n;
    }
    return 0;
}

#define CONFIG_RETENTION_MAX 36500

static int
config_audit(struct config_audit *a, json_t *obj, struct err *err)
{
    const char *key;
    json_t *v;
    long long n = 0;

    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "audit: expected an object");
    json_object_foreach(obj, key, v) {
        if (strcmp(key, "key_file") == 0) {
            char *copy;
            if (!json_is_string(v) || json_string_length(v) == 0)
                return err_set(err, ERR_INVALID,
                               "audit.key_file: expected a non-empty path");
            copy = strdup(json_string_value(v));
            if (copy == NULL)
                return err_set(err, ERR_NOMEM, "out of memory");
            free(a->key_file);
            a->key_file = copy;
        } else if (strcmp(key, "retention_days") == 0) {
            if (config_int(v, "audit.retention_days", 0,
                           CONFIG_RETENTION_MAX, &n, err) != 0)
                return ERR_INVALID;
            a->retention_days = (int)n;
        } else {
            return err_set(err, ERR_INVALID, "audit.%.64s: unknown key", key);
        }
    }
    return 0;
}

static int
config_section(json_t **slot, json_t *v, const char *key, struct err *err)
{
    if (!json_is_object(v))
        return err_set(err, ERR_INVALID, "%s: expected an object", key);
    json_decref(*slot);
    *slot = json_deep_copy(v);
    return *slot ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

static int
config_string(json_t *v, const char *key, struct err *err)
{
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, "%s: expected a string", key);
    return 0;
}

/* "trusted_proxies": an array of IP addresses or CIDR blocks. */
static int
config_trusted_proxies(struct config *cfg, json_t *v, struct err *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    struct cidr *list;
    json_t *item;
    size_t i;

    if (!json_is_array(v))
        return err_set(err, ERR_INVALID,
                       "trusted_proxies: expected an array of IP "
                       "addresses or CIDR blocks");
    list = calloc(n ? n : 1, sizeof *list);
    if (list == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) ||
            cidr_parse(json_string_value(item), &list[i]) != 0) {
            free(list);
            return err_set(err, ERR_INVALID,
                           "trusted_proxies[%zu]: expected an IP address "
                           "or CIDR block such as 10.0.0.0/8 (host bits "
                           "zero)",
                           i);
        }
    }
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = list;
    cfg->trusted_proxy_count = n;
    return 0;
}

int
config_apply(struct config *cfg, json_t *root, struct err *err)
{
    static const char *const required[] = {"listen", "database", "jwt",
                                           "iam"};
    const char *key;
    json_t *v;
    int rc = 0;

    if (!json_is_object(root))
        return err_set(err, ERR_INVALID,
                       "configuration: expected a JSON object");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (json_object_get(root, required[i]) == NULL)
            return err_set(err, ERR_INVALID, "%s: required key is missing",
                           required[i]);
    json_object_foreach(root, key, v) {
        if (strcmp(key, "listen") == 0) {
            rc = config_string(v, key, err);
            if (rc == 0)
                rc = config_set_listen(cfg, json_string_value(v), err);
        } else if (strcmp(key, "database") == 0) {
            rc = config_string(v, key, err);
            if (rc == 0)
                rc = config_set_database(cfg, json_string_value(v), err);
        } else if (strcmp(key, "log_level") == 0) {
            rc = config_string(v, key, err);
            if (rc == 0 &&
                log_level_parse(json_string_value(v), &cfg->log_level) != 0)
                rc = err_set(err, ERR_INVALID,
                             "log_level: expected debug, info, warn or "
                             "error");
        } else if (strcmp(key, "limits") == 0) {
            rc = config_limits(&cfg->limits, v, err);
        } else if (strcmp(key, "audit") == 0) {
            rc = config_audit(&cfg->audit, v, err);
        } else if (strcmp(key, "jwt") == 0) {
            rc = config_section(&cfg->jwt, v, key, err);
        } else if (strcmp(key, "iam") == 0) {
            rc = config_section(&cfg->iam, v, key, err);
        } else if (strcmp(key, "rate_limits") == 0) {
            rc = config_section(&cfg->rate_limits, v, key, err);
        } else if (strcmp(key, "trusted_proxies") == 0) {
            rc = config_trusted_proxies(cfg, v, err);
        } else if (strcmp(key, "read") == 0) {
            rc = config_section(&cfg->read, v, key, err);
        } else {
            rc = err_set(err, ERR_INVALID, "%.64s: unknown key", key);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
config_load_file(struct config *cfg, const char *path, struct err *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return err_set(err, ERR_INVALID, "%.100s:%d:%d: %.100s", path,
                       jerr.line, jerr.column, jerr.text);
    rc = config_apply(cfg, root, err);
    json_decref(root);
    return rc;
}
