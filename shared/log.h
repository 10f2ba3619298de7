/*
 * Structured logging: one event per line on stderr, as
 *
 *   ts=2026-12-03T17:00:00.123Z level=info mod=store event=open path=x.db
 *
 * The caller supplies the module, the event name and the key=value tail as
 * a printf format.  Values that come from outside (paths, user agents,
 * suite names) must go through log_quote so that spaces, quotes and control
 * characters cannot forge fields or lines.  Secrets are never passed here.
 */
#ifndef LABGATE_LOG_H
#define LABGATE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Drop events below level. Thread-safe to call at any time. */
void log_set_level(enum log_level level);

/*
 * Parse "debug", "info", "warn" or "error" into *out.  Returns 0, or -1
 * for any other name.
 */
int log_level_parse(const char *name, enum log_level *out);

/* Whether an event at level would be written. */
int log_enabled(enum log_level level);

/* Write one event; fmt formats the key=value tail (may be ""). */
void log_event(enum log_level level, const char *mod, const char *event,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Render s as a log value into out (size n): as is when it holds only
 * safe characters, otherwise double-quoted with \" \\ and \xNN escapes,
 * cut with "..." when too long.  NULL renders as "-".  Returns out.
 */
const char *log_quote(const char *s, char *out, size_t n);

#define LOG_QUOTE_MAX 256

#endif
