/*
 * Logging to stderr.  Each event is formatted into a local buffer and
 * written with a single fputs, which glibc makes atomic per call, so lines
 * from different threads never interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timefmt.h"

static atomic_int log_min = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void
log_set_level(enum log_level level)
{
    atomic_store(&log_min, (int)level);
}

int
log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int
log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&log_min);
}

void
log_event(enum log_level level, const char *mod, const char *event,
          const char *fmt, ...)
{
    char line[2048], ts[TIMEFMT_ISO_MAX];
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    timefmt_iso8601(timefmt_now_ms(), ts, sizeof ts);
    n = snprintf(line, sizeof line, "ts=%s level=%s mod=%s event=%s", ts,
                 log_names[level], mod, event);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (fmt[0] != '\0' && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    n = (int)strlen(line);
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    line[n] = '\0';
    fputs(line, stderr);
}

static int
log_plain(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c >= 0x7f)
            return 0;
    }
    return 1;
}

const char *
log_quote(const char *s, char *out, size_t n)
{
    size_t o = 0;

    if (n < 8) {
        if (n > 0)
            out[0] = '\0';
        return out;
    }
    if (s == NULL) {
        strcpy(out, "-");
        return out;
    }
    if (log_plain(s) && strlen(s) < n) {
        strcpy(out, s);
        return out;
    }
    out[o++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (o + 8 >= n) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < ' ' || c == 0x7f) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
