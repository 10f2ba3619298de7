/*
 * Placeholder for the IAM route's authenticator until the IAM issue lands:
 * every request gets 501, and the "iam" section must be empty.
 */
#include "auth/iamauth.h"

int
iamauth_configure(struct server *srv, struct err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(srv->cfg->iam, key, v) {
        return err_set(err, ERR_INVALID,
                       "iam.%.64s: unknown key (this build does not "
                       "implement IAM settings yet)",
                       key);
    }
    return 0;
}

int
iamauth_check(struct http_req *rq, struct http_resp *rs)
{
    http_error(rs, 501, "IAM (SigV4) authorization is not implemented yet");
    return -1;
}

void
iamauth_shutdown(struct server *srv)
{
}
