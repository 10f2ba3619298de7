/*
 * The sanitiser walks its input one code point at a time and turns each
 * into a token: the character itself, a visible escape ("\x1b" for C0
 * controls and DEL, "\u009b" for C1 controls and invisible formatting
 * characters), U+FFFD for a byte that is not valid UTF-8, or '?' in
 * ASCII mode.  Tokens are atomic: truncation never splits an escape or a
 * wide character.  While writing it remembers the last point where the
 * text plus an ellipsis would still fit, and cuts back to it when the
 * whole does not.
 */
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "sanitize.h"

size_t
sanitize_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

size_t
sanitize_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Invisible characters that reorder or hide text: always escaped. */
static int
sanitize_is_format(uint32_t cp)
{
    return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
           (cp >= 0xfff9 && cp <= 0xfffb) || cp == 0x061c ||
           (cp >= 0xe0000 && cp <= 0xe007f);
}

int
sanitize_cp_width(uint32_t cp)
{
    int w;

    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
        return -1;
    if (cp < 0x7f)
        return 1;
    if (sanitize_is_format(cp))
        return -1;
    w = wcwidth((wchar_t)cp);
    if (w < 0)
        return -1;
    return w > 2 ? 2 : w;
}

struct sanitize_out {
    char *buf;
    size_t size, len;
    int cols, max_cols, ell_cols;
    size_t cut_len; /* length at the last point where an ellipsis fits */
    int cut_cols;
    int overflow;
};

/* Append one token of tlen bytes and w columns; 0 while it fits. */
static int
sanitize_emit(struct sanitize_out *o, const char *tok, size_t tlen, int w)
{
    if (o->cols + w > o->max_cols || o->len + tlen >= o->size) {
        o->overflow = 1;
        return -1;
    }
    memcpy(o->buf + o->len, tok, tlen);
    o->len += tlen;
    o->cols += w;
    if (o->cols + o->ell_cols <= o->max_cols) {
        o->cut_len = o->len;
        o->cut_cols = o->cols;
    }
    return 0;
}

/* One code point (or an invalid byte when cp is UINT32_MAX). */
static int
sanitize_token(struct sanitize_out *o, uint32_t cp, int ascii, int *have_base)
{
    char tok[16];
    int w;

    if (cp == UINT32_MAX) {
        *have_base = 1;
        if (ascii)
            return sanitize_emit(o, "?", 1, 1);
        return sanitize_emit(o, "\xef\xbf\xbd", 3, 1);
    }
    w = sanitize_cp_width(cp);
    if (w == 0 && !*have_base)
        w = -1; /* a combining mark with nothing to combine with */
    if (w < 0) {
        int n = cp < 0x80 ? snprintf(tok, sizeof tok, "\\x%02x", cp)
                          : snprintf(tok, sizeof tok, "\\u%04x", cp);
        *have_base = 1;
        return sanitize_emit(o, tok, (size_t)n, n);
    }
    *have_base = 1;
    if (ascii && cp >= 0x80)
        return w == 0 ? 0 : sanitize_emit(o, "?", 1, 1);
    return sanitize_emit(o, tok, sanitize_utf8_encode(cp, tok), w);
}

int
sanitize_text(const char *in, size_t len, char *out, size_t outsz, int max_cols,
              int ascii)
{
    const char *ell = ascii ? "..." : "\xe2\x80\xa6";
    struct sanitize_out o = {out,           outsz, 0, 0, max_cols,
                             ascii ? 3 : 1, 0,     0, 0};
    const unsigned char *s = (const unsigned char *)in;
    int have_base = 0;
    size_t i = 0;

    if (outsz == 0)
        return 0;
    out[0] = '\0';
    if (in == NULL || max_cols <= 0)
        return 0;
    if (o.ell_cols > max_cols)
        o.ell_cols = max_cols;
    while (i < len) {
        uint32_t cp = UINT32_MAX;
        size_t used = sanitize_utf8_decode(s + i, len - i, &cp);
        if (used == 0) {
            used = 1;
            cp = UINT32_MAX;
        }
        if (sanitize_token(&o, cp, ascii, &have_base) != 0)
            break;
        i += used;
    }
    if (o.overflow) {
        size_t el = ascii ? (size_t)o.ell_cols : strlen(ell);
        o.len = o.cut_len;
        o.cols = o.cut_cols;
        if (o.len + el < o.size && o.cols + o.ell_cols <= max_cols) {
            memcpy(out + o.len, ell, el);
            o.len += el;
            o.cols += o.ell_cols;
        }
    }
    out[o.len] = '\0';
    return o.cols;
}

int
sanitize_str(const char *in, char *out, size_t outsz, int max_cols, int ascii)
{
    return sanitize_text(in, in ? strlen(in) : 0, out, outsz, max_cols, ascii);
}
