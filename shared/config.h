/*
 * labgate-server configuration: built-in defaults, the JSON configuration
 * file and command-line overrides, in that order.
 *
 * The file is one JSON object.  Its required keys are "listen",
 * "database", "jwt" and "iam"; "log_level", "limits", "audit", "read",
 * "trusted_proxies" and "rate_limits" (validated by server/ratelimit.c)
 * are optional.
 * Every key is checked: an unknown key, a wrong type or a bad value is an
 * error naming the key (for example "limits.threads").  The "jwt", "iam"
 * and "read" objects are kept as parsed JSON and validated by the modules
 * that own them, so that those modules can grow their sections without
 * touching this file.
 */
#ifndef LABGATE_CONFIG_H
#define LABGATE_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "cidr.h"
#include "err.h"
#include "log.h"

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_DATABASE "./labgate.db"
#define CONFIG_DEFAULT_ISSUER "https://token.actions.githubusercontent.com"
#define CONFIG_DEFAULT_AUDIENCE "lab-api"
#define CONFIG_DEFAULT_REGION "eu-north-1"

struct config_limits {
    size_t max_body_bytes;     /* largest accepted request body */
    int max_json_depth;        /* nesting depth of a result body */
    int max_json_members;      /* members and elements in a result body */
    int threads;               /* CivetWeb worker threads */
    int request_timeout_ms;    /* time to receive a whole request */
    int keep_alive_timeout_ms; /* idle time between keep-alive requests */
    int max_header_bytes;      /* request line and header fields */
    int max_header_count;      /* header fields in one request */
    int batch_max;             /* results committed in one transaction */
    int queue_max;             /* results waiting for the writer */
    int max_watchers;          /* long-polls waiting at once */
};

/* The audit trail (docs/audit.md). */
struct config_audit {
    char *key_file;     /* NULL: the database path + ".key" */
    int retention_days; /* prune older results; 0 keeps everything */
};

struct config {
    char *listen;   /* "HOST:PORT"; port 0 picks a free port */
    char *database; /* SQLite file path */
    enum log_level log_level;
    struct config_limits limits;
    struct config_audit audit;
    json_t *jwt; /* the "jwt" object; never NULL after config_init */
    json_t *iam; /* the "iam" object; never NULL after config_init */
    json_t *rate_limits; /* "rate_limits"; never NULL after config_init */
    /* Peers whose X-Forwarded-For is believed; empty by default. */
    struct cidr *trusted_proxies;
    size_t trusted_proxy_count;
    json_t *read; /* the optional "read" object; never NULL either */
};

/* Fill cfg with the built-in defaults. Returns 0 or ERR_NOMEM. */
int config_init(struct config *cfg);

/*
 * Read the JSON file at path over the values in cfg.  Returns 0, or a
 * negative code with the reason (naming the key) in err; cfg keeps the
 * values it had for whatever was not applied.
 */
int config_load_file(struct config *cfg, const char *path, struct err *err);

/*
 * Apply the settings in root (a parsed configuration object) to cfg, the
 * way config_load_file does for a file.
 */
int config_apply(struct config *cfg, json_t *root, struct err *err);

/* Set the listen address after checking it is HOST:PORT. */
int config_set_listen(struct config *cfg, const char *value, struct err *err);

/* Set the database path (non-empty). */
int config_set_database(struct config *cfg, const char *value,
                        struct err *err);

/*
 * Split cfg->listen into host (size hn) and port.  Returns 0, or
 * ERR_INVALID when it is not HOST:PORT.
 */
int config_listen_split(const char *listen, char *host, size_t hn, int *port);

/* Free everything cfg owns; cfg may be reused after config_init. */
void config_free(struct config *cfg);

#endif
