/*
 * Wall-clock time in milliseconds since the Unix epoch and its ISO 8601
 * UTC text form ("2026-12-03T17:00:00.123Z"), the only time format that
 * labgate writes or reads.
 */
#ifndef LABGATE_TIMEFMT_H
#define LABGATE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_ISO_MAX 32

/* Current wall-clock time in ms since the epoch. */
int64_t timefmt_now_ms(void);

/* Monotonic clock in nanoseconds, for measuring durations. */
int64_t timefmt_mono_ns(void);

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (n >= 25). */
void timefmt_iso8601(int64_t ms, char *out, size_t n);

/*
 * Parse an ISO 8601 UTC time ("2026-12-03T17:00:00Z", optional fraction,
 * "Z" or "+00:00"; a date alone means midnight) or a plain integer of
 * epoch milliseconds.  Returns 0 and sets *ms, or -1 when s is neither.
 */
int timefmt_parse(const char *s, int64_t *ms);

#endif
