/*
 * Time formatting and parsing round trips.
 */
#include <criterion/criterion.h>

#include "timefmt.h"

Test(timefmt, formats_utc_with_milliseconds)
{
    char out[TIMEFMT_ISO_MAX];

    timefmt_iso8601(1764781200123LL, out, sizeof out);
    cr_assert_str_eq(out, "2025-12-03T17:00:00.123Z");
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
