/*
 * Error reasons: err_set fills the caller's struct err, and err_name is the
 * one place that turns a code into text.
 */
#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int
err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void
err_clear(struct err *e)
{
    e->code = ERR_OK;
    e->msg[0] = '\0';
}

const char *
err_name(int code)
{
    switch (code) {
    case ERR_OK:
        return "ok";
    case ERR_INVALID:
        return "invalid";
    case ERR_NOMEM:
        return "nomem";
    case ERR_IO:
        return "io";
    case ERR_NOTFOUND:
        return "notfound";
    case ERR_BUSY:
        return "busy";
    case ERR_TOOBIG:
        return "toobig";
    case ERR_UNSUPPORTED:
        return "unsupported";
    case ERR_AUTH:
        return "auth";
    case ERR_DENIED:
        return "denied";
    case ERR_VERSION:
        return "version";
    case ERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}
