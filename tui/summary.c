/*
 * A scanner for the summary's outer structure.  It understands exactly
 * enough JSON to find where each value starts and ends (strings with
 * their escapes, and nesting of objects and arrays); every value it
 * needs is then parsed by jansson from its own slice of the text, so
 * the scanner never has to interpret anything but structure.
 */
#include <stdio.h>
#include <string.h>

#include "summary.h"

struct summary_scan {
    const char *p, *end;
};

static void
summary_ws(struct summary_scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Skip a string starting at '"'; returns 0 or -1. */
static int
summary_skip_string(struct summary_scan *s)
{
    s->p++;
    while (s->p < s->end) {
        if (*s->p == '\\') {
            s->p += 2;
            continue;
        }
        if (*s->p++ == '"')
            return 0;
    }
    return -1;
}

/* Skip one value of any kind; returns 0 or -1. */
static int
summary_skip_value(struct summary_scan *s)
{
    int depth = 0;

    summary_ws(s);
    do {
        if (s->p >= s->end)
            return -1;
        switch (*s->p) {
        case '"':
            if (summary_skip_string(s) != 0)
                return -1;
            continue;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (--depth < 0)
                return -1;
            break;
        case ',':
        case ':':
            if (depth == 0)
                return -1;
            break;
        default:
            /* Numbers, true, false, null: run to a delimiter. */
            if (depth == 0) {
                while (s->p < s->end && strchr(",}] \t\r\n", *s->p) == NULL)
                    s->p++;
                return 0;
            }
        }
        s->p++;
    } while (depth > 0);
    return 0;
}

/* Expect c (after blanks); returns 0 or -1. */
static int
summary_expect(struct summary_scan *s, char c)
{
    summary_ws(s);
    if (s->p >= s->end || *s->p != c)
        return -1;
    s->p++;
    return 0;
}

static int
summary_cells(struct summary_scan *s, summary_cell_fn fn, void *arg,
              struct err *err)
{
    size_t i = 0;

    if (summary_expect(s, '[') != 0)
        return err_set(err, ERR_INVALID,
                       "summary: cells: expected an "
                       "array");
    summary_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;; i++) {
        const char *start;
        json_t *cell;
        int rc = 0;
        summary_ws(s);
        start = s->p;
        if (summary_skip_value(s) != 0)
            return err_set(err, ERR_INVALID, "summary: cells[%zu]: bad JSON",
                           i);
        if (fn != NULL) {
            cell = json_loadb(start, (size_t)(s->p - start), 0, NULL);
            if (!json_is_object(cell))
                rc = err_set(err, ERR_INVALID,
                             "summary: cells[%zu]: expected an object", i);
            else
                rc = fn(arg, cell, err);
            json_decref(cell);
            if (rc != 0)
                return rc;
        }
        summary_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (summary_expect(s, ']') != 0)
            return err_set(err, ERR_INVALID, "summary: cells: bad JSON");
        return 0;
    }
}

/* Read one member name into key (size n); returns 0 or -1. */
static int
summary_key(struct summary_scan *s, char *key, size_t n)
{
    const char *start;

    summary_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return -1;
    start = s->p + 1;
    if (summary_skip_string(s) != 0)
        return -1;
    snprintf(key, n, "%.*s", (int)(s->p - 1 - start), start);
    return summary_expect(s, ':');
}

static int
summary_last_id(struct summary_scan *s, int64_t *last_id)
{
    const char *start;
    json_t *v;

    summary_ws(s);
    start = s->p;
    if (summary_skip_value(s) != 0)
        return -1;
    v = json_loadb(start, (size_t)(s->p - start), JSON_DECODE_ANY, NULL);
    if (!json_is_integer(v)) {
        json_decref(v);
        return -1;
    }
    *last_id = json_integer_value(v);
    json_decref(v);
    return 0;
}

int
summary_parse(const char *text, size_t len, summary_cell_fn fn, void *arg,
              int64_t *last_id, struct err *err)
{
    struct summary_scan s = {text, text + len};
    int have_id = 0, have_cells = 0, rc;
    char key[64];

    if (summary_expect(&s, '{') != 0)
        return err_set(err, ERR_INVALID, "summary: expected an object");
    summary_ws(&s);
    if (s.p < s.end && *s.p == '}')
        s.p++;
    else
        for (;;) {
            if (summary_key(&s, key, sizeof key) != 0)
                return err_set(err, ERR_INVALID, "summary: bad JSON");
            if (strcmp(key, "last_id") == 0) {
                if (summary_last_id(&s, last_id) != 0)
                    return err_set(err, ERR_INVALID,
                                   "summary: last_id: expected an integer");
                have_id = 1;
            } else if (strcmp(key, "cells") == 0) {
                rc = summary_cells(&s, fn, arg, err);
                if (rc != 0)
                    return rc;
                have_cells = 1;
            } else if (summary_skip_value(&s) != 0) {
                return err_set(err, ERR_INVALID, "summary: %s: bad JSON", key);
            }
            summary_ws(&s);
            if (s.p < s.end && *s.p == ',') {
                s.p++;
                continue;
            }
            if (summary_expect(&s, '}') != 0)
                return err_set(err, ERR_INVALID, "summary: bad JSON");
            break;
        }
    if (!have_id || !have_cells)
        return err_set(err, ERR_INVALID, "summary: %s is missing",
                       have_id ? "cells" : "last_id");
    return 0;
}
