/*
 * libFuzzer target: the SigV4 signing parameters of a request and its
 * canonicalisation (server/auth/sigv4.c), the parts an IAM-route client
 * controls.  The input is lines: the path, the query (empty for none),
 * the Authorization header (empty for none), then "name:value" header
 * lines up to an empty line, then the body.  Each parsed request is
 * scope-checked, canonicalised both ways and turned into a string to
 * sign; a signature is then computed and compared, as the verifier does.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADERS 16

/* The next line of *p (NUL-terminated in place), or NULL at the end. */
static char *
fuzz_line(char **p, char *end)
{
    char *s = *p, *nl;

    if (s >= end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (nl == NULL)
        nl = end;
    *nl = '\0';
    *p = nl + 1;
    return s;
}

static void
fuzz_check(const struct sigv4_request *rq)
{
    struct sigv4_expect ex = {"eu-north-1", "execute-api", 1796320000, 300, 1};
    struct sigv4_auth a;
    struct buf creq = BUF_INIT, sts = BUF_INIT;
    unsigned char key[32] = {0};
    struct err e;
    char hex[65];

    if (sigv4_parse(rq, &a, &e) == 0) {
        sigv4_check_scope(&a, &ex, &e);
        for (unsigned flags = 0; flags < 4; flags++) {
            buf_reset(&creq);
            if (sigv4_canonical_request(rq, &a, flags, &creq, &e) == 0 &&
                creq.data != NULL) {
                buf_reset(&sts);
                sigv4_string_to_sign(&a, creq.data, &sts);
                if (sts.data != NULL) {
                    sigv4_sign(key, sts.data, hex);
                    sigv4_equal(hex, a.signature);
                }
            }
        }
    }
    sigv4_auth_free(&a);
    buf_free(&creq);
    buf_free(&sts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigv4_header h[FUZZ_HEADERS + 1];
    struct sigv4_request rq;
    char *text = malloc(size + 1), *p, *end, *line, *colon;
    size_t n = 0;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    p = text;
    end = text + size;
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.path = fuzz_line(&p, end);
    rq.query = fuzz_line(&p, end);
    line = fuzz_line(&p, end);
    if (rq.path == NULL || rq.query == NULL || line == NULL)
        goto out;
    if (rq.query[0] == '\0')
        rq.query = NULL;
    if (line[0] != '\0')
        h[n++] = (struct sigv4_header){"Authorization", line};
    while (n < FUZZ_HEADERS && (line = fuzz_line(&p, end)) != NULL &&
           line[0] != '\0') {
        colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        h[n++] = (struct sigv4_header){line, colon + 1};
    }
    rq.headers = h;
    rq.nheaders = n;
    rq.body = p < end ? p : NULL;
    rq.body_len = p < end ? (size_t)(end - p) : 0;
    fuzz_check(&rq);
out:
    free(text);
    return 0;
}
