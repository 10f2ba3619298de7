/*
 * The growable buffer: in-place and grown printf, and JSON strings as
 * jansson writes them, with bytes that are not UTF-8 replaced.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

Test(buf, printf_formats_in_place_and_grows_past_the_capacity)
{
    struct buf b = BUF_INIT;
    char big[1000];

    cr_assert_eq(buf_printf(&b, "%s=%d", "a", 1), 0);
    cr_assert_str_eq(b.data, "a=1");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* 256 bytes of capacity: this cannot fit and must be redone. */
    cr_assert_eq(buf_printf(&b, "[%s]", big), 0);
    cr_assert_eq(b.len, 3 + 1 + 999 + 1);
    cr_assert_eq(strncmp(b.data, "a=1[xxx", 7), 0);
    cr_assert_str_eq(b.data + b.len - 4, "xxx]");
    cr_assert_eq(buf_printf(&b, "%05d", 42), 0);
    cr_assert_str_eq(b.data + b.len - 5, "00042");
    cr_assert_eq(strlen(b.data), b.len);
    buf_free(&b);
}

static void
expect_json_string(const char *in, const char *want)
{
    struct buf b = BUF_INIT;

    cr_assert_eq(buf_json_string(&b, in), 0);
    cr_assert_str_eq(b.data, want);
    buf_free(&b);
}

Test(buf, json_string_matches_jansson_for_utf8_text)
{
    static const char *const texts[] = {
        "", "plain", "q\"uo\\te/", "\b\f\n\r\t\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
    };

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *j = json_string(texts[i]);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

        cr_assert_not_null(want, "%zu", i);
        expect_json_string(texts[i], want);
        free(want);
        json_decref(j);
    }
}

Test(buf, json_string_replaces_each_byte_that_is_not_utf8)
{
    expect_json_string("a\377b", "\"a\\uFFFDb\"");
    /* a stray continuation byte, a cut-short sequence, an overlong "/",
     * a surrogate (U+D800) and a code point past U+10FFFF */
    expect_json_string("\x80", "\"\\uFFFD\"");
    expect_json_string("\xe2\x82", "\"\\uFFFD\\uFFFD\"");
    expect_json_string("\xc0\xaf", "\"\\uFFFD\\uFFFD\"");
    expect_json_string("\xed\xa0\x80", "\"\\uFFFD\\uFFFD\\uFFFD\"");
    expect_json_string("\xf4\x90\x80\x80", "\"\\uFFFD\\uFFFD\\uFFFD\\uFFFD\"");
    expect_json_string("ok\xe2\x82\xac\xe2", "\"ok\xe2\x82\xac\\uFFFD\"");
}
