/*
 * Growable buffer.  Capacity doubles so appends are amortised O(1); the
 * data pointer is NULL until the first append.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static int
buf_grow(struct buf *b, size_t need)
{
    size_t cap;
    char *p;

    if (b->len + need + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n) != 0)
        return ERR_NOMEM;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    size_t room = b->cap - b->len;
    va_list ap;
    int n;

    /* Format in place when it fits, which is nearly always; only a long
     * result pays for formatting twice. */
    va_start(ap, fmt);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return 0;
    }
    if (room)
        b->data[b->len] = '\0'; /* undo the cut-short attempt */
    if (n < 0 || buf_grow(b, (size_t)n) != 0)
        return ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0
 * when it is not one: a stray continuation byte, an overlong form, a
 * surrogate, a code point past U+10FFFF or a sequence cut short.
 */
static size_t
buf_utf8_len(const unsigned char *p)
{
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;

    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xE0)
        lo = 0xA0;
    else if (p[0] == 0xED)
        hi = 0x9F;
    else if (p[0] == 0xF0)
        lo = 0x90;
    else if (p[0] == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

int
buf_json_string(struct buf *b, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)v, *run = p;
    char esc[7];
    int rc = buf_append(b, "\"", 1);

    while (*p != '\0') {
        const char *e = NULL;
        size_t n = 1;

        switch (*p) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            if (*p >= 0x80 && (n = buf_utf8_len(p)) == 0) {
                n = 1;
                e = "\\uFFFD";
            } else if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                esc[6] = '\0';
                e = esc;
            }
        }
        if (e != NULL) {
            rc |= buf_append(b, run, (size_t)(p - run));
            rc |= buf_puts(b, e);
            run = p + n;
        }
        p += n;
    }
    rc |= buf_append(b, run, (size_t)(p - run));
    return rc | buf_append(b, "\"", 1);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *
buf_steal(struct buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
