/*
 * Time formatting and parsing round trips.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>

#include "timefmt.h"

Test(timefmt, formats_utc_with_milliseconds)
{
    char out[TIMEFMT_ISO_MAX];

    timefmt_iso8601(1764781200123LL, out, sizeof out);
    cr_assert_str_eq(out, "2025-12-03T17:00:00.123Z");
}

/* The calendar arithmetic agrees with gmtime_r across four centuries. */
Test(timefmt, formats_the_same_dates_as_gmtime)
{
    char got[TIMEFMT_ISO_MAX], want[TIMEFMT_ISO_MAX];
    int64_t ms = -5364662400000LL; /* 1800-01-01 */
    struct tm tm;

    for (int i = 0; i < 200000; i++) {
        time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);

        gmtime_r(&sec, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)sec * 1000));
        timefmt_iso8601(ms, got, sizeof got);
        cr_assert_str_eq(got, want, "ms=%lld", (long long)ms);
        /* Steps of about 18 hours (plus some ms) visit every day of the
         * range at different times, leap days and 1900 and 2100. */
        ms += 65432109LL;
    }
    timefmt_iso8601(951868799999LL, got, sizeof got);
    cr_assert_str_eq(got, "2000-02-29T23:59:59.999Z");
    timefmt_iso8601(-1, got, sizeof got);
    cr_assert_str_eq(got, "1969-12-31T23:59:59.999Z");
    timefmt_iso8601(1764781200123LL, got, 11);
    cr_assert_str_eq(got, "2025-12-03");
}

Test(timefmt, parses_iso_dates_times_and_epoch_ms)
{
    int64_t ms;

    cr_assert_eq(timefmt_parse("2025-12-03T17:00:00.123Z", &ms), 0);
    cr_assert_eq(ms, 1764781200123LL);
    cr_assert_eq(timefmt_parse("2025-12-03T17:00:00+00:00", &ms), 0);
    cr_assert_eq(ms, 1764781200000LL);
    cr_assert_eq(timefmt_parse("2025-12-03", &ms), 0);
    cr_assert_eq(ms, 1764720000000LL);
    cr_assert_eq(timefmt_parse("1764781200123", &ms), 0);
    cr_assert_eq(ms, 1764781200123LL);
}

Test(timefmt, rejects_malformed_times)
{
    static const char *const bad[] = {"", "2025-13-01", "2025-12-03T25:00:00Z",
                                      "2025-12-03T17:00:00", "yesterday",
                                      "2025-12-03T17:00:00+02:00", "12ab"};
    int64_t ms;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(timefmt_parse(bad[i], &ms), -1, "accepted '%s'",
                     bad[i]);
}
