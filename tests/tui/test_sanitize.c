/*
 * The sanitiser: nothing from outside reaches the terminal raw.  Escape
 * sequences and control characters show as visible escapes, invalid
 * UTF-8 as U+FFFD, wide characters count two columns, and text is cut
 * with an ellipsis without splitting an escape or a character.
 */
#include <criterion/criterion.h>
#include <locale.h>
#include <string.h>

#include "sanitize.h"

static void
utf8_locale(void)
{
    cr_assert_not_null(setlocale(LC_CTYPE, "C.UTF-8"));
}

TestSuite(sanitize, .init = utf8_locale);

static const char *
san(const char *in, int cols, int ascii, int *used)
{
    static char out[1024];
    int w = sanitize_str(in, out, sizeof out, cols, ascii);

    if (used)
        *used = w;
    return out;
}

Test(sanitize, plain_text_passes_unchanged)
{
    int w;

    cr_assert_str_eq(san("unit-tests", 40, 0, &w), "unit-tests");
    cr_assert_eq(w, 10);
}

Test(sanitize, escape_sequence_is_shown_escaped)
{
    int w;

    cr_assert_str_eq(san("a\x1b[31mred\x1b[0m", 80, 0, &w),
                     "a\\x1b[31mred\\x1b[0m");
    cr_assert_eq(w, 19);
}

Test(sanitize, osc_title_sequence_and_bell_are_escaped)
{
    cr_assert_str_eq(san("\x1b]0;pwned\x07x", 80, 0, NULL),
                     "\\x1b]0;pwned\\x07x");
}

Test(sanitize, newline_tab_and_del_are_escaped)
{
    cr_assert_str_eq(san("a\nb\tc\x7f", 80, 0, NULL), "a\\x0ab\\x09c\\x7f");
}

Test(sanitize, c1_control_csi_is_escaped)
{
    /* U+009B is a one-character CSI on some terminals. */
    cr_assert_str_eq(san("x\xc2\x9b"
                         "2J",
                         80, 0, NULL),
                     "x\\u009b2J");
}

Test(sanitize, bidi_override_is_escaped)
{
    cr_assert_str_eq(san("abc\xe2\x80\xae"
                         "def",
                         80, 0, NULL),
                     "abc\\u202edef");
}

Test(sanitize, invalid_utf8_is_replaced)
{
    cr_assert_str_eq(san("a\xff"
                         "b",
                         80, 0, NULL),
                     "a\xef\xbf\xbd"
                     "b");
    /* An overlong encoding of '/' and a lone surrogate. */
    cr_assert_str_eq(san("\xc0\xaf", 80, 0, NULL), "\xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_str_eq(san("\xed\xa0\x80", 80, 0, NULL),
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

Test(sanitize, truncated_sequence_at_end_is_replaced)
{
    cr_assert_str_eq(san("ok\xe2\x82", 80, 0, NULL),
                     "ok\xef\xbf\xbd\xef\xbf\xbd");
}

Test(sanitize, wide_characters_count_two_columns)
{
    int w;

    /* Four CJK ideographs: eight columns. */
    cr_assert_str_eq(
        san("\xe6\xb5\x8b\xe8\xaf\x95\xe5\xa5\x97\xe4\xbb\xb6", 8, 0, &w),
        "\xe6\xb5\x8b\xe8\xaf\x95\xe5\xa5\x97\xe4\xbb\xb6");
    cr_assert_eq(w, 8);
}

Test(sanitize, wide_text_is_cut_without_splitting_a_character)
{
    int w;

    /* Seven columns: three ideographs (6) would leave no room for the
     * ellipsis, so two ideographs and the ellipsis (5) remain. */
    cr_assert_str_eq(
        san("\xe6\xb5\x8b\xe8\xaf\x95\xe5\xa5\x97\xe4\xbb\xb6", 6, 0, &w),
        "\xe6\xb5\x8b\xe8\xaf\x95\xe2\x80\xa6");
    cr_assert_eq(w, 5);
}

Test(sanitize, long_text_is_cut_with_an_ellipsis)
{
    int w;

    cr_assert_str_eq(san("abcdefghij", 6, 0, &w), "abcde\xe2\x80\xa6");
    cr_assert_eq(w, 6);
}

Test(sanitize, text_that_fits_exactly_is_not_cut)
{
    cr_assert_str_eq(san("abcdef", 6, 0, NULL), "abcdef");
}

Test(sanitize, cut_never_splits_an_escape)
{
    /* "ab\x1b" would be 6 columns; with 5 the escape is dropped whole. */
    cr_assert_str_eq(san("ab\x1bzz", 5, 0, NULL), "ab\xe2\x80\xa6");
}

Test(sanitize, ascii_mode_replaces_non_ascii_and_uses_dots)
{
    int w;

    cr_assert_str_eq(san("caf\xc3\xa9", 10, 1, NULL), "caf?");
    cr_assert_str_eq(san("abcdefghij", 6, 1, &w), "abc...");
    cr_assert_eq(w, 6);
    cr_assert_str_eq(san("a\x1b", 10, 1, NULL), "a\\x1b");
}

Test(sanitize, combining_mark_stays_with_its_base)
{
    int w;

    cr_assert_str_eq(san("e\xcc\x81", 10, 0, &w), "e\xcc\x81");
    cr_assert_eq(w, 1);
    /* With nothing to combine with, it is escaped. */
    cr_assert_str_eq(san("\xcc\x81", 10, 0, NULL), "\\u0301");
}

Test(sanitize, nul_bytes_inside_a_value_are_escaped)
{
    char out[64];

    sanitize_text("a\0b", 3, out, sizeof out, 20, 0);
    cr_assert_str_eq(out, "a\\x00b");
}

Test(sanitize, output_buffer_is_never_overrun)
{
    char out[8];

    sanitize_str("\x1b\x1b\x1b\x1b", out, sizeof out, 80, 0);
    cr_assert_lt(strlen(out), sizeof out);
    cr_assert_eq(strncmp(out, "\\x1b", 4), 0);
}
