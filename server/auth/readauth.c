/*
 * Read access.  Until read credentials exist (dashboard issue), reads are
 * open on loopback and answered 501 elsewhere.
 */
#include "auth/readauth.h"

int
readauth_check(struct http_req *rq, struct http_resp *rs)
{
    if (rq->srv->loopback)
        return 0;
    http_error(rs, 501,
               "read access on a non-loopback listener needs a read "
               "credential, which is not implemented yet");
    return -1;
}
