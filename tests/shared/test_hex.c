/*
 * Hex digits: every byte value encodes to its two lowercase digits and
 * decodes back from either case; a stray character is refused where it
 * stands; percent-encoding keeps exactly the unreserved set.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"

Test(hex, encode_matches_printf_for_every_byte)
{
    unsigned char all[256];
    char got[2 * 256 + 1], want[3];

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    hex_encode(all, sizeof all, got);
    cr_assert_eq(strlen(got), 512);
    for (int i = 0; i < 256; i++) {
        snprintf(want, sizeof want, "%02x", i);
        cr_assert_eq(memcmp(got + 2 * i, want, 2), 0, "byte %d: %.2s", i,
                     got + 2 * i);
    }
}

Test(hex, encode_of_nothing_is_empty)
{
    char out[1] = {'x'};

    hex_encode("", 0, out);
    cr_assert_eq(out[0], '\0');
}

Test(hex, decode_round_trips_either_case)
{
    unsigned char out[4];

    cr_assert_eq(hex_decode("00fF7a80", 4, out), 0);
    cr_assert_eq(out[0], 0x00);
    cr_assert_eq(out[1], 0xff);
    cr_assert_eq(out[2], 0x7a);
    cr_assert_eq(out[3], 0x80);
    cr_assert_eq(hex_decode("DEADBEEF", 4, out), 0);
    cr_assert_eq(memcmp(out, "\xde\xad\xbe\xef", 4), 0);
}

Test(hex, decode_refuses_a_non_digit)
{
    unsigned char out[2];

    cr_assert_eq(hex_decode("0g12", 2, out), -1);
    cr_assert_eq(hex_decode("01 2", 2, out), -1);
    cr_assert_eq(hex_decode("01\0002", 2, out), -1);
    cr_assert_eq(hex_decode("zz", 1, out), -1);
}

Test(hex, value_of_each_class)
{
    cr_assert_eq(hex_value('0'), 0);
    cr_assert_eq(hex_value('9'), 9);
    cr_assert_eq(hex_value('a'), 10);
    cr_assert_eq(hex_value('F'), 15);
    cr_assert_eq(hex_value('g'), -1);
    cr_assert_eq(hex_value('/'), -1);
    cr_assert_eq(hex_value(0xe9), -1);
}

/* Each byte alone: unreserved kept, '/' kept only on request, the rest
 * %XX in uppercase, as printf writes it. */
Test(hex, percent_encode_keeps_only_the_unreserved_set)
{
    char in[1], got[4], want[4];

    for (int i = 0; i < 256; i++) {
        int keep = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') ||
                   (i >= '0' && i <= '9') || i == '-' || i == '.' ||
                   i == '_' || i == '~';

        in[0] = (char)i;
        for (int slash = 0; slash < 2; slash++) {
            if (keep || (slash && i == '/'))
                snprintf(want, sizeof want, "%c", i);
            else
                snprintf(want, sizeof want, "%%%02X", i);
            cr_assert_eq(hex_percent_encode(in, 1, slash, got),
                         strlen(want));
            cr_assert_str_eq(got, want, "byte %d, keep_slash %d", i, slash);
        }
    }
}

Test(hex, percent_encode_of_a_string_and_of_nothing)
{
    char out[3 * 8 + 1];

    cr_assert_eq(hex_percent_encode("a b/\xc3\xbc~", 7, 0, out), 15);
    cr_assert_str_eq(out, "a%20b%2F%C3%BC~");
    cr_assert_eq(hex_percent_encode("a b/", 4, 1, out), 6);
    cr_assert_str_eq(out, "a%20b/");
    out[0] = 'x';
    cr_assert_eq(hex_percent_encode("", 0, 0, out), 0);
    cr_assert_eq(out[0], '\0');
}
