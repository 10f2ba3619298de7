/*
 * Time helpers.  Conversions use timegm and the calendar arithmetic of
 * timefmt_civil, so nothing depends on the process time zone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

int64_t
timefmt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
timefmt_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The proleptic Gregorian date of a day number (0 is 1970-01-01), by
 * counting 400-year eras of 146097 days from 0000-03-01, so that the leap
 * day ends each year of the count.  Pure arithmetic: gmtime_r takes
 * glibc's time zone lock on every call, which every request formatting a
 * time would contend on.
 */
static void
timefmt_civil(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t era, yoe, doe, doy, mp;

    days += 719468; /* days from 0000-03-01 to 1970-01-01 */
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;                                   /* 0..146096 */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* from March 1, 0..365 */
    mp = (5 * doy + 2) / 153;                      /* March is 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static char *
timefmt_put(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

void
timefmt_iso8601(int64_t ms, char *out, size_t n)
{
    int64_t days = ms / 86400000, rem = ms % 86400000, year;
    int month, day;
    char text[TIMEFMT_ISO_MAX], *p = text;

    if (rem < 0) {
        rem += 86400000;
        days -= 1;
    }
    timefmt_civil(days, &year, &month, &day);
    if (year < 0 || year > 9999) {
        snprintf(out, n, "%lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)year,
                 month, day, (int)(rem / 3600000), (int)(rem / 60000 % 60),
                 (int)(rem / 1000 % 60), (int)(rem % 1000));
        return;
    }
    p = timefmt_put(p, year, 4);
    *p++ = '-';
    p = timefmt_put(p, month, 2);
    *p++ = '-';
    p = timefmt_put(p, day, 2);
    *p++ = 'T';
    p = timefmt_put(p, rem / 3600000, 2);
    *p++ = ':';
    p = timefmt_put(p, rem / 60000 % 60, 2);
    *p++ = ':';
    p = timefmt_put(p, rem / 1000 % 60, 2);
    *p++ = '.';
    p = timefmt_put(p, rem % 1000, 3);
    *p++ = 'Z';
    if (n == 0)
        return;
    if ((size_t)(p - text) >= n)
        p = text + n - 1;
    memcpy(out, text, (size_t)(p - text));
    out[p - text] = '\0';
}

static int
timefmt_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int
timefmt_epoch_ms(const char *s, int64_t *ms)
{
    char *end;
    long long v;

    if (*s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || strlen(s) > 15)
        return -1;
    *ms = v;
    return 0;
}

int
timefmt_parse(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;

    if (timefmt_epoch_ms(s, ms) == 0)
        return 0;
    if (timefmt_digits(&p, 4, &y) || *p++ != '-' ||
        timefmt_digits(&p, 2, &mo) || *p++ != '-' ||
        timefmt_digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (timefmt_digits(&p, 2, &h) || *p++ != ':' ||
            timefmt_digits(&p, 2, &mi) || *p++ != ':' ||
            timefmt_digits(&p, 2, &sec))
            return -1;
        if (*p == '.') {
            int scale = 100;
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            for (; isdigit((unsigned char)*p); p++) {
                frac += (*p - '0') * scale;
                scale /= 10;
            }
        }
        if (*p == 'Z' || *p == 'z')
            p++;
        else if (strcmp(p, "+00:00") == 0)
            p += 6;
        else
            return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}
