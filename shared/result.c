/*
 * Result validation and JSON conversion.  A posted body must be a JSON
 * object with "suite" and "status"; the known optional fields are type
 * checked and everything else is kept as posted in the payload.  Limits on
 * nesting and member count apply before anything else is looked at.
 */
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "timefmt.h"

static const char *const result_status_names[] = {"pass", "fail", "error",
                                                  "skip"};
static const char *const result_auth_names[] = {"none", "jwt", "iam"};

#define RESULT_FIELD(m) {#m, offsetof(struct result_identity, m), 0}

const struct result_ident_field result_ident_fields[] = {
    RESULT_FIELD(source_addr),   RESULT_FIELD(user_agent),
    RESULT_FIELD(request_id),    RESULT_FIELD(issuer),
    RESULT_FIELD(subject),       RESULT_FIELD(repository),
    RESULT_FIELD(owner),         RESULT_FIELD(principal_arn),
    RESULT_FIELD(caller_arn),    RESULT_FIELD(account),
    RESULT_FIELD(access_key_id), RESULT_FIELD(session_name),
    {"claims", offsetof(struct result_identity, claims), 1},
};

const size_t result_ident_field_count =
    sizeof result_ident_fields / sizeof result_ident_fields[0];

char **
result_ident_slot(struct result_identity *ident,
                  const struct result_ident_field *f)
{
    return (char **)((char *)ident + f->offset);
}

const char *
result_status_name(enum result_status s)
{
    return (unsigned)s < RESULT_STATUS_COUNT ? result_status_names[s] : "?";
}

const char *
result_auth_name(enum result_auth a)
{
    return (unsigned)a < RESULT_AUTH_COUNT ? result_auth_names[a] : "?";
}

int
result_status_parse(const char *s, enum result_status *out)
{
    for (int i = 0; i < RESULT_STATUS_COUNT; i++) {
        if (strcmp(s, result_status_names[i]) == 0) {
            *out = (enum result_status)i;
            return 0;
        }
    }
    return -1;
}

int
result_auth_parse(const char *s, enum result_auth *out)
{
    for (int i = 0; i < RESULT_AUTH_COUNT; i++) {
        if (strcmp(s, result_auth_names[i]) == 0) {
            *out = (enum result_auth)i;
            return 0;
        }
    }
    return -1;
}

void
result_free(struct result *r)
{
    free(r->route);
    free(r->suite);
    free(r->payload);
    free(r->principal);
    for (size_t i = 0; i < result_ident_field_count; i++)
        free(*result_ident_slot(&r->ident, &result_ident_fields[i]));
    memset(r, 0, sizeof *r);
}

/* Count members and check depth; returns -1 past a limit. */
static int
result_walk(json_t *v, int depth, const struct result_limits *lim,
            int *members)
{
    const char *key;
    json_t *child;
    size_t i;

    if (depth > lim->max_depth)
        return -1;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) {
            if (++*members > lim->max_members ||
                result_walk(child, depth + 1, lim, members) != 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (++*members > lim->max_members ||
                result_walk(child, depth + 1, lim, members) != 0)
                return -1;
        }
    }
    return 0;
}

/*
 * A suite name is 1 to RESULT_SUITE_MAX code points with no C0 or C1
 * control characters.  jansson has already checked the UTF-8.
 */
static int
result_check_suite(const char *s, struct err *err)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        if ((*p & 0xc0) != 0x80)
            chars++;
        if (*p < 0x20 || *p == 0x7f)
            return err_set(err, ERR_INVALID,
                           "suite: control characters are not allowed");
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return err_set(err, ERR_INVALID,
                           "suite: control characters are not allowed");
    }
    if (chars == 0 || chars > RESULT_SUITE_MAX)
        return err_set(err, ERR_INVALID,
                       "suite: must be 1 to %d characters long",
                       RESULT_SUITE_MAX);
    return 0;
}

static int
result_check_counts(json_t *counts, struct err *err)
{
    static const char *const names[] = {"passed", "failed", "skipped"};
    const char *key;
    json_t *v;

    if (!json_is_object(counts))
        return err_set(err, ERR_INVALID, "counts: must be an object");
    json_object_foreach(counts, key, v) {
        int known = 0;
        for (size_t i = 0; i < 3; i++)
            known |= strcmp(key, names[i]) == 0;
        if (!known)
            return err_set(err, ERR_INVALID,
                           "counts.%.64s: unknown member (expected passed, "
                           "failed or skipped)",
                           key);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return err_set(err, ERR_INVALID,
                           "counts.%s: must be a non-negative integer", key);
    }
    return 0;
}

static int
result_check_fields(json_t *root, struct err *err)
{
    static const char *const strings[] = {"run_id", "sha", "ref", "url",
                                          "message"};
    json_t *v;

    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        v = json_object_get(root, strings[i]);
        if (v != NULL && !json_is_string(v))
            return err_set(err, ERR_INVALID, "%s: must be a string",
                           strings[i]);
    }
    v = json_object_get(root, "duration_ms");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
        return err_set(err, ERR_INVALID,
                       "duration_ms: must be a non-negative integer");
    v = json_object_get(root, "counts");
    if (v != NULL && result_check_counts(v, err) != 0)
        return ERR_INVALID;
    return 0;
}

int
result_parse_body(struct result *r, const char *body, size_t len,
                  const struct result_limits *lim, struct err *err)
{
    json_error_t jerr;
    json_t *root, *suite, *status;
    enum result_status st;
    char *payload = NULL, *suite_copy = NULL;
    int members = 0, rc = ERR_INVALID;

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return err_set(err, ERR_INVALID, "invalid JSON at line %d column %d: "
                       "%.120s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        err_set(err, ERR_INVALID, "body: must be a JSON object");
        goto out;
    }
    if (result_walk(root, 1, lim, &members) != 0) {
        err_set(err, ERR_INVALID,
                "body: nested deeper than %d or more than %d members",
                lim->max_depth, lim->max_members);
        goto out;
    }
    suite = json_object_get(root, "suite");
    status = json_object_get(root, "status");
    if (suite == NULL || !json_is_string(suite)) {
        err_set(err, ERR_INVALID, "suite: required string is missing");
        goto out;
    }
    if (result_check_suite(json_string_value(suite), err) != 0)
        goto out;
    if (status == NULL || !json_is_string(status) ||
        result_status_parse(json_string_value(status), &st) != 0) {
        err_set(err, ERR_INVALID,
                "status: must be one of pass, fail, error, skip");
        goto out;
    }
    if (result_check_fields(root, err) != 0)
        goto out;
    payload = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    suite_copy = strdup(json_string_value(suite));
    if (payload == NULL || suite_copy == NULL) {
        free(payload);
        free(suite_copy);
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto out;
    }
    free(r->payload);
    free(r->suite);
    r->payload = payload;
    r->suite = suite_copy;
    r->status = st;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int
result_set_principal(struct result *r)
{
    const char *p = NULL;

    switch (r->auth) {
    case RESULT_AUTH_IAM:
        p = r->ident.principal_arn;
        break;
    case RESULT_AUTH_JWT:
        p = r->ident.subject;
        break;
    case RESULT_AUTH_NONE:
        p = r->ident.source_addr;
        break;
    }
    free(r->principal);
    r->principal = NULL;
    if (p == NULL)
        return 0;
    r->principal = strdup(p);
    return r->principal ? 0 : ERR_NOMEM;
}

static json_t *
result_json_text(const char *text)
{
    json_t *v;

    if (text == NULL)
        return json_null();
    v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

json_t *
result_to_json(const struct result *r)
{
    char when[TIMEFMT_ISO_MAX];
    json_t *o, *ident;

    timefmt_iso8601(r->received_ms, when, sizeof when);
    o = json_object();
    ident = json_object();
    if (o == NULL || ident == NULL) {
        json_decref(o);
        json_decref(ident);
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "received_at", json_string(when));
    json_object_set_new(o, "route", json_string(r->route ? r->route : ""));
    json_object_set_new(o, "auth", json_string(result_auth_name(r->auth)));
    json_object_set_new(o, "suite", json_string(r->suite ? r->suite : ""));
    json_object_set_new(o, "status",
                        json_string(result_status_name(r->status)));
    json_object_set_new(o, "principal",
                        r->principal ? json_string(r->principal)
                                     : json_null());
    json_object_set_new(o, "payload", result_json_text(r->payload));
    for (size_t i = 0; i < result_ident_field_count; i++) {
        const struct result_ident_field *f = &result_ident_fields[i];
        char *v = *result_ident_slot((struct result_identity *)&r->ident, f);
        if (v == NULL)
            continue;
        if (f->json)
            json_object_set_new(ident, f->name, result_json_text(v));
        else
            json_object_set_new(ident, f->name, json_string(v));
    }
    json_object_set_new(o, "identity", ident);
    json_object_set_new(o, "chain",
                        r->chain[0] ? json_string(r->chain) : json_null());
    return o;
}

static int
result_put_member(struct buf *b, const char *name, const char *v)
{
    int rc = buf_puts(b, ",\"") | buf_puts(b, name) | buf_puts(b, "\":");

    return rc | (v == NULL ? buf_puts(b, "null") : buf_json_string(b, v));
}

int
result_write_json(const struct result *r, int flags, struct buf *b)
{
    char when[TIMEFMT_ISO_MAX];
    const char *sep = "";
    int rc;

    timefmt_iso8601(r->received_ms, when, sizeof when);
    rc = buf_printf(b, "{\"id\":%lld", (long long)r->id);
    rc |= result_put_member(b, "received_at", when);
    rc |= result_put_member(b, "route", r->route ? r->route : "");
    rc |= result_put_member(b, "auth", result_auth_name(r->auth));
    rc |= result_put_member(b, "suite", r->suite ? r->suite : "");
    rc |= result_put_member(b, "status", result_status_name(r->status));
    rc |= result_put_member(b, "principal", r->principal);
    if (!(flags & RESULT_JSON_NO_PAYLOAD))
        rc |= buf_puts(b, ",\"payload\":") |
              buf_puts(b, r->payload ? r->payload : "null");
    rc |= buf_puts(b, ",\"identity\":{");
    for (size_t i = 0; i < result_ident_field_count; i++) {
        const struct result_ident_field *f = &result_ident_fields[i];
        char *v = *result_ident_slot((struct result_identity *)&r->ident, f);

        if (v == NULL)
            continue;
        rc |= buf_puts(b, sep) | buf_puts(b, "\"") | buf_puts(b, f->name) |
              buf_puts(b, "\":");
        sep = ",";
        if (f->json)
            rc |= buf_puts(b, v);
        else
            rc |= buf_json_string(b, v);
    }
    rc |= buf_puts(b, "}");
    rc |= result_put_member(b, "chain", r->chain[0] ? r->chain : NULL);
    rc |= buf_puts(b, "}");
    return rc ? ERR_NOMEM : 0;
}

static int
result_dup_member(json_t *obj, const char *key, char **slot, int required,
                  struct err *err)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        if (required)
            return err_set(err, ERR_INVALID, "%s: missing", key);
        return 0;
    }
    if (json_is_string(v))
        *slot = strdup(json_string_value(v));
    else
        *slot = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                  JSON_ENCODE_ANY);
    return *slot ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* "chain" is optional: null or 64 hex digits. */
static int
result_chain_from_json(struct result *r, json_t *v, struct err *err)
{
    const char *s;

    if (v == NULL || json_is_null(v))
        return 0;
    s = json_string_value(v);
    if (s == NULL || strlen(s) != RESULT_CHAIN_HEX - 1 ||
        strspn(s, "0123456789abcdef") != RESULT_CHAIN_HEX - 1)
        return err_set(err, ERR_INVALID, "chain: expected 64 hex digits");
    memcpy(r->chain, s, RESULT_CHAIN_HEX);
    return 0;
}

int
result_from_json(struct result *r, json_t *obj, struct err *err)
{
    json_t *ident, *v;
    int64_t ms;

    memset(r, 0, sizeof *r);
    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "result: expected an object");
    v = json_object_get(obj, "id");
    if (!json_is_integer(v))
        return err_set(err, ERR_INVALID, "id: expected an integer");
    r->id = json_integer_value(v);
    v = json_object_get(obj, "received_at");
    if (!json_is_string(v) || timefmt_parse(json_string_value(v), &ms) != 0)
        return err_set(err, ERR_INVALID, "received_at: expected a time");
    r->received_ms = ms;
    v = json_object_get(obj, "status");
    if (!json_is_string(v) ||
        result_status_parse(json_string_value(v), &r->status) != 0)
        return err_set(err, ERR_INVALID, "status: unknown value");
    v = json_object_get(obj, "auth");
    if (!json_is_string(v) ||
        result_auth_parse(json_string_value(v), &r->auth) != 0)
        return err_set(err, ERR_INVALID, "auth: unknown value");
    if (result_dup_member(obj, "suite", &r->suite, 1, err) ||
        result_dup_member(obj, "route", &r->route, 0, err) ||
        result_dup_member(obj, "principal", &r->principal, 0, err) ||
        result_dup_member(obj, "payload", &r->payload, 0, err))
        goto fail;
    ident = json_object_get(obj, "identity");
    if (ident != NULL && !json_is_object(ident)) {
        err_set(err, ERR_INVALID, "identity: expected an object");
        goto fail;
    }
    for (size_t i = 0; ident && i < result_ident_field_count; i++) {
        const struct result_ident_field *f = &result_ident_fields[i];
        if (result_dup_member(ident, f->name,
                              result_ident_slot(&r->ident, f), 0, err))
            goto fail;
    }
    if (result_chain_from_json(r, json_object_get(obj, "chain"), err) != 0)
        goto fail;
    return 0;
fail:
    result_free(r);
    return ERR_INVALID;
}
