/*
 * Placeholder for the JWT route's authenticator until the JWT issue lands:
 * every request gets 501, and the "jwt" section must be empty.
 */
#include "auth/bearer.h"

int
bearer_configure(struct server *srv, struct err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(srv->cfg->jwt, key, v) {
        return err_set(err, ERR_INVALID,
                       "jwt.%.64s: unknown key (this build does not "
                       "implement JWT settings yet)",
                       key);
    }
    return 0;
}

int
bearer_check(struct http_req *rq, struct http_resp *rs)
{
    http_error(rs, 501, "JWT authorization is not implemented yet");
    return -1;
}

void
bearer_shutdown(struct server *srv)
{
}
