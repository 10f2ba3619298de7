/*
 * AWS Signature Version 4, verifier side.
 *
 * A request's signing parameters come either from the Authorization
 * header ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...") or from presigned query parameters (X-Amz-*); both
 * land in a struct sigv4_auth.  The canonical request is rebuilt from the
 * request as it arrived: the wire path normalised and every segment
 * percent-encoded again (non-S3 services sign the encoded path), the
 * query decoded and re-encoded with AWS's unreserved set and sorted, the
 * signed headers lower-cased, trimmed, inner whitespace collapsed and
 * repeated headers joined with commas, and the SHA-256 of the body.
 *
 * Derived signing keys cost four HMACs; struct sigv4_cache keeps them in
 * a fixed table indexed by a SHA-256 of key id, secret and scope, so a
 * changed secret never finds a stale key.  Error messages copy API
 * Gateway's wording so that clients and their users see familiar text.
 */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hex.h"
#include "auth/sigv4.h"

#define SIGV4_EXPIRES_MAX 604800
#define SIGV4_QUERY_PARAMS_MAX 128

static const char sigv4_mismatch[] =
    "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details.";

void
sigv4_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];

    SHA256(p, n, d);
    hex_encode(d, sizeof d, hex);
}

static void
sigv4_hmac(const void *key, size_t kn, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;

    HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg, strlen(msg),
         out, &n);
}

int
sigv4_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    if (n != strlen(b))
        return 0;
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* The number the n decimal digits at s spell (checked by the caller). */
static int
sigv4_digits(const char *s, int n)
{
    int v = 0;

    while (n-- > 0)
        v = v * 10 + (*s++ - '0');
    return v;
}

int
sigv4_parse_amz_date(const char *s, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return -1;
    tm.tm_year = sigv4_digits(s, 4);
    tm.tm_mon = sigv4_digits(s + 4, 2);
    tm.tm_mday = sigv4_digits(s + 6, 2);
    tm.tm_hour = sigv4_digits(s + 9, 2);
    tm.tm_min = sigv4_digits(s + 11, 2);
    tm.tm_sec = sigv4_digits(s + 13, 2);
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

void
sigv4_format_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The first header of rq named name, or NULL. */
static const char *
sigv4_header(const struct sigv4_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return NULL;
}

/*
 * Percent-decode [s, s+n) into out (room for n + 1), '+' staying '+'.
 * Returns the decoded length, or -1 for a bad escape or a NUL byte.
 */
static long
sigv4_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            unsigned char v;
            if (i + 2 >= n || hex_decode(s + i + 1, 1, &v) != 0)
                return -1;
            c = v;
            i += 2;
        }
        if (c == 0)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Append [s, s+n) to out percent-encoded (hex_percent_encode). */
static int
sigv4_encode(struct buf *out, const char *s, size_t n, int keep_slash)
{
    char chunk[3 * 64 + 1];

    for (size_t i = 0; i < n; i += 64) {
        size_t len = n - i < 64 ? n - i : 64;
        size_t o = hex_percent_encode(s + i, len, keep_slash, chunk);
        if (buf_append(out, chunk, o) != 0)
            return ERR_NOMEM;
    }
    return 0;
}

/*
 * One query parameter, decoded and re-encoded the way AWS signs it.  The
 * four strings share one allocation, which name points to.
 */
struct sigv4_param {
    char *name, *value;   /* decoded */
    char *ename, *evalue; /* canonical encoding */
};

struct sigv4_params {
    struct sigv4_param p[SIGV4_QUERY_PARAMS_MAX];
    size_t n;
};

static void
sigv4_params_free(struct sigv4_params *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->p[i].name);
    ps->n = 0;
}

/*
 * Decode "name=value" ([q, q+len); no '=' means an empty value) and
 * encode both again, into one block.  Returns 0, ERR_INVALID or
 * ERR_NOMEM.
 */
static int
sigv4_param_set(struct sigv4_param *p, const char *q, size_t len)
{
    const char *eq = memchr(q, '=', len);
    size_t nn = eq ? (size_t)(eq - q) : len;
    size_t vn = eq ? len - nn - 1 : 0;
    long dn, dv;
    char *block;

    /* Decoded text is never longer, encoded text at most 3 times. */
    if (len > SIZE_MAX / 4 - 4 || (block = malloc(4 * len + 4)) == NULL)
        return ERR_NOMEM;
    p->name = block;
    dn = sigv4_decode(q, nn, p->name);
    p->value = p->name + nn + 1;
    dv = dn < 0 ? -1 : sigv4_decode(eq ? eq + 1 : "", vn, p->value);
    if (dv < 0)
        return ERR_INVALID;
    p->ename = p->value + vn + 1;
    p->evalue =
        p->ename + hex_percent_encode(p->name, (size_t)dn, 0, p->ename) + 1;
    hex_percent_encode(p->value, (size_t)dv, 0, p->evalue);
    return 0;
}

/* Split a raw query into ps.  Returns 0, ERR_INVALID or ERR_NOMEM. */
static int
sigv4_params_parse(const char *q, struct sigv4_params *ps, struct err *err)
{
    ps->n = 0;
    while (q != NULL && *q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        struct sigv4_param *p;
        int rc;

        if (len == 0) {
            q++;
            continue;
        }
        if (ps->n == SIGV4_QUERY_PARAMS_MAX)
            return err_set(err, ERR_INVALID, "query: more than %d parameters",
                           SIGV4_QUERY_PARAMS_MAX);
        p = &ps->p[ps->n++];
        memset(p, 0, sizeof *p);
        rc = sigv4_param_set(p, q, len);
        if (rc == ERR_INVALID)
            return err_set(err, ERR_INVALID,
                           "query: badly percent-encoded parameter");
        if (rc != 0)
            return err_set(err, ERR_NOMEM, "out of memory");
        q += len;
    }
    return 0;
}

static const char *
sigv4_param(const struct sigv4_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return ps->p[i].value;
    return NULL;
}

static int
sigv4_param_cmp(const void *a, const void *b)
{
    const struct sigv4_param *x = *(const struct sigv4_param *const *)a;
    const struct sigv4_param *y = *(const struct sigv4_param *const *)b;
    int c = strcmp(x->ename, y->ename);

    return c != 0 ? c : strcmp(x->evalue, y->evalue);
}

static int
sigv4_canonical_query(const struct sigv4_params *ps, unsigned flags,
                      struct buf *out)
{
    const struct sigv4_param *sorted[SIGV4_QUERY_PARAMS_MAX];
    size_t n = 0;
    int rc = 0;

    for (size_t i = 0; i < ps->n; i++) {
        const char *name = ps->p[i].name;
        if (strcmp(name, "X-Amz-Signature") == 0 ||
            ((flags & SIGV4_OMIT_TOKEN) &&
             strcmp(name, "X-Amz-Security-Token") == 0))
            continue;
        sorted[n++] = &ps->p[i];
    }
    qsort(sorted, n, sizeof sorted[0], sigv4_param_cmp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = buf_append(out, "&", 1);
        if (rc == 0)
            rc = buf_puts(out, sorted[i]->ename);
        if (rc == 0)
            rc = buf_append(out, "=", 1);
        if (rc == 0)
            rc = buf_puts(out, sorted[i]->evalue);
    }
    return rc;
}

/*
 * The canonical URI: with SIGV4_NORMALIZE, empty and "." segments go and
 * ".." removes its parent (RFC 3986 section 5.2.4); a trailing slash
 * stays.  Every byte outside the unreserved set is encoded, so a
 * percent-encoded path is encoded a second time, as non-S3 AWS services
 * expect.
 */
static int
sigv4_canonical_path(const char *path, unsigned flags, struct buf *out)
{
    size_t n = strlen(path), nseg = 0, *starts, *lens, small[2][32];
    int rc = 0, trailing = 0;

    if (n == 0)
        return buf_puts(out, "/");
    if (!(flags & SIGV4_NORMALIZE))
        return sigv4_encode(out, path, n, 1);
    /* A path has at most n + 1 segments; most fit on the stack. */
    starts = n < 32 ? small[0] : calloc(n + 1, sizeof *starts);
    lens = n < 32 ? small[1] : calloc(n + 1, sizeof *lens);
    if (starts == NULL || lens == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        trailing = j == n && (len == 0 || (len == 1 && path[i] == '.') ||
                              (len == 2 && !strncmp(path + i, "..", 2)));
        if (len == 2 && !strncmp(path + i, "..", 2)) {
            if (nseg > 0)
                nseg--;
        } else if (len > 0 && !(len == 1 && path[i] == '.')) {
            starts[nseg] = i;
            lens[nseg++] = len;
        }
        i = j + 1;
    }
    for (size_t s = 0; s < nseg && rc == 0; s++) {
        rc = buf_puts(out, "/");
        if (rc == 0)
            rc = sigv4_encode(out, path + starts[s], lens[s], 0);
    }
    if (rc == 0 && (nseg == 0 || trailing))
        rc = buf_puts(out, "/");
out:
    if (starts != small[0])
        free(starts);
    if (lens != small[1])
        free(lens);
    return rc;
}

/* Append value trimmed, with inner runs of blanks collapsed to one. */
static int
sigv4_header_value(struct buf *out, const char *v)
{
    int space = 0, rc = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0' && rc == 0; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            space = 1;
            continue;
        }
        if (space)
            rc = buf_puts(out, " ");
        space = 0;
        if (rc == 0)
            rc = buf_append(out, v, 1);
    }
    return rc;
}

/* "name:v1,v2\n" for each signed header, in the order they are listed. */
static int
sigv4_canonical_headers(const struct sigv4_request *rq,
                        const char *signed_headers, struct buf *out)
{
    const char *p = signed_headers;
    int rc = 0;

    while (*p != '\0' && rc == 0) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        int first = 1;

        rc = buf_append(out, p, len);
        if (rc == 0)
            rc = buf_puts(out, ":");
        for (size_t i = 0; i < rq->nheaders && rc == 0; i++) {
            const char *name = rq->headers[i].name;
            if (strlen(name) != len || strncasecmp(name, p, len) != 0)
                continue;
            if (!first)
                rc = buf_puts(out, ",");
            first = 0;
            if (rc == 0)
                rc = sigv4_header_value(out, rq->headers[i].value);
        }
        if (rc == 0)
            rc = buf_puts(out, "\n");
        p += len + (semi ? 1 : 0);
    }
    return rc;
}

int
sigv4_canonical_request(const struct sigv4_request *rq,
                        const struct sigv4_auth *a, unsigned flags,
                        struct buf *out, struct err *err)
{
    struct sigv4_params *ps = calloc(1, sizeof *ps);
    char hash[65];
    int rc;

    if (ps == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = sigv4_params_parse(rq->query, ps, err);
    if (rc != 0)
        goto out;
    rc = buf_printf(out, "%s\n", rq->method);
    if (rc == 0)
        rc = sigv4_canonical_path(rq->path, flags, out);
    if (rc == 0)
        rc = buf_puts(out, "\n");
    if (rc == 0)
        rc = sigv4_canonical_query(ps, flags, out);
    if (rc == 0)
        rc = buf_puts(out, "\n");
    if (rc == 0)
        rc = sigv4_canonical_headers(rq, a->signed_headers, out);
    sigv4_sha256_hex(rq->body ? rq->body : "", rq->body_len, hash);
    if (rc == 0)
        rc = buf_printf(out, "\n%s\n%s", a->signed_headers, hash);
    if (rc != 0)
        err_set(err, ERR_NOMEM, "out of memory");
out:
    sigv4_params_free(ps);
    free(ps);
    return rc;
}

int
sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq,
                     struct buf *out)
{
    char hash[65];

    sigv4_sha256_hex(creq, strlen(creq), hash);
    return buf_printf(out, "%s\n%s\n%s/%s/%s/%s\n%s", SIGV4_ALGORITHM,
                      a->amz_date, a->scope_date, a->region, a->service,
                      a->terminator, hash);
}

static void
sigv4_derive(const struct sigv4_auth *a, const char *secret,
             unsigned char key[32])
{
    size_t n = strlen(secret) + 5;
    char *k = malloc(n);
    unsigned char t[32];

    /* Without memory the key is garbage, and the signature never matches. */
    memset(key, 0, 32);
    if (k == NULL)
        return;
    snprintf(k, n, "AWS4%s", secret);
    sigv4_hmac(k, n - 1, a->scope_date, t);
    OPENSSL_cleanse(k, n);
    free(k);
    sigv4_hmac(t, 32, a->region, t);
    sigv4_hmac(t, 32, a->service, t);
    sigv4_hmac(t, 32, a->terminator, key);
    OPENSSL_cleanse(t, sizeof t);
}

void
sigv4_signing_key(struct sigv4_cache *cache, const struct sigv4_auth *a,
                  const char *secret, unsigned char key[32])
{
    const char *parts[] = {a->access_key_id, secret,     a->scope_date,
                           a->region,        a->service, a->terminator};
    struct buf b = BUF_INIT;
    unsigned char id[32];
    struct sigv4_cache_slot *slot;

    for (size_t i = 0; cache != NULL && i < 6; i++)
        if (buf_append(&b, parts[i], strlen(parts[i]) + 1) != 0)
            cache = NULL;
    if (cache == NULL) {
        buf_free(&b);
        sigv4_derive(a, secret, key);
        return;
    }
    SHA256((const unsigned char *)b.data, b.len, id);
    OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    slot = &cache->slots[(id[0] | id[1] << 8) % SIGV4_CACHE_SLOTS];
    pthread_mutex_lock(&cache->lock);
    if (slot->used && memcmp(slot->id, id, sizeof id) == 0) {
        memcpy(key, slot->key, 32);
        pthread_mutex_unlock(&cache->lock);
        return;
    }
    pthread_mutex_unlock(&cache->lock);
    sigv4_derive(a, secret, key);
    pthread_mutex_lock(&cache->lock);
    memcpy(slot->id, id, sizeof id);
    memcpy(slot->key, key, 32);
    slot->used = 1;
    pthread_mutex_unlock(&cache->lock);
}

void
sigv4_sign(const unsigned char key[32], const char *sts, char hex[65])
{
    unsigned char mac[32];

    sigv4_hmac(key, 32, sts, mac);
    hex_encode(mac, sizeof mac, hex);
}

void
sigv4_cache_init(struct sigv4_cache *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

void
sigv4_cache_destroy(struct sigv4_cache *c)
{
    pthread_mutex_destroy(&c->lock);
    OPENSSL_cleanse(c->slots, sizeof c->slots);
}

/* Copy [s, s+n) into dst (size dn); -1 when it does not fit. */
static int
sigv4_copy(char *dst, size_t dn, const char *s, size_t n)
{
    if (n >= dn)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Split "KEY/DATE/REGION/SERVICE/TERM" into a. */
static int
sigv4_parse_credential(const char *cred, struct sigv4_auth *a, struct err *err)
{
    char *slots[] = {a->access_key_id, a->scope_date, a->region, a->service,
                     a->terminator};
    size_t sizes[] = {sizeof a->access_key_id, sizeof a->scope_date,
                      sizeof a->region, sizeof a->service,
                      sizeof a->terminator};
    const char *p = cred;

    for (int i = 0; i < 5; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if ((i < 4) != (slash != NULL) ||
            sigv4_copy(slots[i], sizes[i], p, len) != 0 || len == 0)
            return err_set(err, ERR_INVALID,
                           "Credential must have exactly 5 slash-delimited "
                           "elements, e.g. keyid/date/region/service/term, "
                           "got '%.60s'",
                           cred);
        p += len + 1;
    }
    return 0;
}

/* Whether the ';'-list signed contains name. */
static int
sigv4_signs(const char *signed_headers, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = signed_headers; p != NULL && *p != '\0';) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = semi ? semi + 1 : NULL;
    }
    return 0;
}

/* Fill a->amz_date and request_time from s, an ISO 8601 basic time. */
static int
sigv4_set_date(struct sigv4_auth *a, const char *s, struct err *err)
{
    if (sigv4_parse_amz_date(s, &a->request_time) != 0)
        return err_set(err, ERR_INVALID,
                       "Date must be in ISO-8601 'basic format'. Got "
                       "'%.40s'. See http://en.wikipedia.org/wiki/ISO_8601",
                       s);
    snprintf(a->amz_date, sizeof a->amz_date, "%s", s);
    return 0;
}

/* A Date header (RFC 7231 IMF-fixdate) as the request time. */
static int
sigv4_set_http_date(struct sigv4_auth *a, const char *s, struct err *err)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return err_set(err, ERR_INVALID,
                       "Date header must be an IMF-fixdate such as 'Sun, "
                       "30 Aug 2015 12:36:00 GMT', got '%.40s'",
                       s);
    a->request_time = (int64_t)timegm(&tm);
    sigv4_format_amz_date(a->request_time, a->amz_date);
    return 0;
}

/* The value of "Name=" in an Authorization header's list, or NULL. */
static int
sigv4_auth_field(const char *list, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma;
        size_t len;
        while (*p == ' ' || *p == ',')
            p++;
        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return sigv4_copy(out, n, p + nl + 1, len - nl - 1) == 0 ? 1 : -1;
        p = comma;
    }
    return 0;
}

static int
sigv4_parse_header(const struct sigv4_request *rq, const char *authz,
                   struct sigv4_auth *a, struct err *err)
{
    static const char alg[] = SIGV4_ALGORITHM " ";
    const char *list = "", *date, *token;
    char cred[SIGV4_KEY_ID_MAX + 4 * SIGV4_SCOPE_PART_MAX + 8] = "";
    char msg[ERR_MSG_MAX] = "";
    int has_cred = 0, has_sig = 0, has_sh = 0;

    if (strncmp(authz, alg, sizeof alg - 1) == 0)
        list = authz + sizeof alg - 1;
    has_cred = sigv4_auth_field(list, "Credential", cred, sizeof cred) > 0;
    has_sig = sigv4_auth_field(list, "Signature", a->signature,
                               sizeof a->signature) > 0;
    has_sh = sigv4_auth_field(list, "SignedHeaders", a->signed_headers,
                              sizeof a->signed_headers) > 0;
    date = sigv4_header(rq, "X-Amz-Date");
    if (!has_cred)
        strcat(msg, "Authorization header requires 'Credential' "
                    "parameter. ");
    if (!has_sig)
        strcat(msg, "Authorization header requires 'Signature' parameter. ");
    if (!has_sh)
        strcat(msg, "Authorization header requires 'SignedHeaders' "
                    "parameter. ");
    if (date == NULL && sigv4_header(rq, "Date") == NULL)
        strcat(msg, "Authorization header requires existence of either a "
                    "'X-Amz-Date' or a 'Date' header.");
    if (msg[0] != '\0')
        return err_set(err, ERR_INVALID, "%s", msg);
    if (sigv4_parse_credential(cred, a, err) != 0)
        return err->code;
    if (date ? sigv4_set_date(a, date, err) != 0
             : sigv4_set_http_date(a, sigv4_header(rq, "Date"), err) != 0)
        return err->code;
    if (!sigv4_signs(a->signed_headers, date ? "x-amz-date" : "date"))
        return err_set(err, ERR_INVALID,
                       "'%s' must be a 'SignedHeader' in the AWS "
                       "Authorization.",
                       date ? "X-Amz-Date" : "Date");
    token = sigv4_header(rq, "X-Amz-Security-Token");
    if (token != NULL && (a->security_token = strdup(token)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int
sigv4_parse_query(const struct sigv4_params *ps, struct sigv4_auth *a,
                  struct err *err)
{
    static const char *const need[] = {
        "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Signature",
        "X-Amz-Date",      "X-Amz-SignedHeaders", "X-Amz-Expires"};
    char msg[ERR_MSG_MAX] = "";
    const char *v, *token;
    char *end;

    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (sigv4_param(ps, need[i]) == NULL)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s'%s'",
                     msg[0] ? ", " : "", need[i]);
    if (msg[0] != '\0')
        return err_set(err, ERR_INVALID,
                       "AWS query-string parameters must include %s. "
                       "Re-examine the query-string parameters.",
                       msg);
    if (strcmp(sigv4_param(ps, "X-Amz-Algorithm"), SIGV4_ALGORITHM) != 0)
        return err_set(err, ERR_INVALID,
                       "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'");
    v = sigv4_param(ps, "X-Amz-Expires");
    a->expires = strtoll(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || a->expires < 1 ||
        a->expires > SIGV4_EXPIRES_MAX)
        return err_set(err, ERR_INVALID,
                       "X-Amz-Expires must be a whole number of seconds "
                       "from 1 to 604800 (a week)");
    if (sigv4_parse_credential(sigv4_param(ps, "X-Amz-Credential"), a, err) !=
            0 ||
        sigv4_set_date(a, sigv4_param(ps, "X-Amz-Date"), err) != 0)
        return err->code;
    if (sigv4_copy(a->signature, sizeof a->signature,
                   sigv4_param(ps, "X-Amz-Signature"),
                   strlen(sigv4_param(ps, "X-Amz-Signature"))) != 0 ||
        sigv4_copy(a->signed_headers, sizeof a->signed_headers,
                   sigv4_param(ps, "X-Amz-SignedHeaders"),
                   strlen(sigv4_param(ps, "X-Amz-SignedHeaders"))) != 0)
        return err_set(err, ERR_INVALID,
                       "X-Amz-Signature or X-Amz-SignedHeaders is too long");
    token = sigv4_param(ps, "X-Amz-Security-Token");
    if (token != NULL && (a->security_token = strdup(token)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    a->presigned = 1;
    return 0;
}

int
sigv4_parse(const struct sigv4_request *rq, struct sigv4_auth *a,
            struct err *err)
{
    const char *authz = sigv4_header(rq, "Authorization");
    struct sigv4_params *ps = calloc(1, sizeof *ps);
    int rc, in_query;

    memset(a, 0, sizeof *a);
    if (ps == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = sigv4_params_parse(rq->query, ps, err);
    if (rc != 0)
        goto out;
    in_query = sigv4_param(ps, "X-Amz-Algorithm") != NULL ||
               sigv4_param(ps, "X-Amz-Signature") != NULL ||
               sigv4_param(ps, "X-Amz-Credential") != NULL;
    if (authz != NULL && in_query)
        rc = err_set(err, ERR_INVALID,
                     "Only one auth mechanism allowed; only the "
                     "X-Amz-Algorithm query parameter, Signature query "
                     "string parameter or the Authorization header should "
                     "be specified");
    else if (authz != NULL)
        rc = sigv4_parse_header(rq, authz, a, err);
    else if (in_query)
        rc = sigv4_parse_query(ps, a, err);
    else
        rc = err_set(err, ERR_NOTFOUND, "Missing Authentication Token");
    if (rc == 0 && !sigv4_signs(a->signed_headers, "host"))
        rc = err_set(err, ERR_INVALID,
                     "'Host' or ':authority' must be a 'SignedHeader' in "
                     "the AWS Authorization.");
out:
    sigv4_params_free(ps);
    free(ps);
    return rc;
}

void
sigv4_auth_free(struct sigv4_auth *a)
{
    free(a->security_token);
    a->security_token = NULL;
}

/* "5 min." for whole minutes, otherwise "N sec.". */
static void
sigv4_span(int64_t s, char *out, size_t n)
{
    if (s % 60 == 0)
        snprintf(out, n, "%lld min.", (long long)(s / 60));
    else
        snprintf(out, n, "%lld sec.", (long long)s);
}

static int
sigv4_check_time(const struct sigv4_auth *a, const struct sigv4_expect *ex,
                 struct err *err)
{
    char now[17], bound[17], span[32];
    int64_t oldest = a->presigned ? a->request_time + a->expires
                                  : a->request_time + ex->max_skew;

    sigv4_format_amz_date(ex->now, now);
    if (ex->now > oldest) {
        int64_t allowed = a->presigned ? a->expires : ex->max_skew;
        sigv4_format_amz_date(ex->now - allowed, bound);
        sigv4_span(allowed, span, sizeof span);
        return err_set(err, ERR_AUTH,
                       "Signature expired: %s is now earlier than %s (%s - "
                       "%s)",
                       a->amz_date, bound, now, span);
    }
    if (a->request_time > ex->now + ex->max_skew) {
        sigv4_format_amz_date(ex->now + ex->max_skew, bound);
        sigv4_span(ex->max_skew, span, sizeof span);
        return err_set(err, ERR_AUTH,
                       "Signature not yet current: %s is still later than "
                       "%s (%s + %s)",
                       a->amz_date, bound, now, span);
    }
    return 0;
}

int
sigv4_check_scope(const struct sigv4_auth *a, const struct sigv4_expect *ex,
                  struct err *err)
{
    if (strncmp(a->scope_date, a->amz_date, 8) != 0)
        return err_set(err, ERR_AUTH,
                       "Date in Credential scope does not match YYYYMMDD "
                       "from ISO-8601 version of date from HTTP: '%s' != "
                       "'%.8s', from '%s'.",
                       a->scope_date, a->amz_date, a->amz_date);
    if (strcmp(a->region, ex->region) != 0)
        return err_set(err, ERR_AUTH,
                       "Credential should be scoped to a valid region, not "
                       "'%s'. ",
                       a->region);
    if (strcmp(a->service, ex->service) != 0)
        return err_set(err, ERR_AUTH,
                       "Credential should be scoped to correct service: "
                       "'%s'. ",
                       ex->service);
    if (strcmp(a->terminator, "aws4_request") != 0)
        return err_set(err, ERR_AUTH,
                       "Credential should be scoped with a valid "
                       "terminator: 'aws4_request', not '%s'. ",
                       a->terminator);
    return sigv4_check_time(a, ex, err);
}

/* Compute the signature of rq under flags and compare it with a's. */
static int
sigv4_matches(const struct sigv4_request *rq, const struct sigv4_auth *a,
              const unsigned char key[32], unsigned flags, struct err *err)
{
    struct buf creq = BUF_INIT, sts = BUF_INIT;
    char sig[65];
    int rc;

    rc = sigv4_canonical_request(rq, a, flags, &creq, err);
    if (rc == 0 && sigv4_string_to_sign(a, creq.data, &sts) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc == 0) {
        sigv4_sign(key, sts.data, sig);
        rc = sigv4_equal(sig, a->signature) ? 0 : 1;
    }
    buf_free(&creq);
    buf_free(&sts);
    return rc;
}

int
sigv4_verify(const struct sigv4_request *rq, const struct sigv4_auth *a,
             const char *secret, const struct sigv4_expect *ex,
             struct sigv4_cache *cache, struct err *err)
{
    const char *sent = sigv4_header(rq, "X-Amz-Content-Sha256");
    unsigned flags = ex->normalize ? SIGV4_NORMALIZE : 0;
    unsigned char key[32];
    char hash[65];
    int rc;

    sigv4_sha256_hex(rq->body ? rq->body : "", rq->body_len, hash);
    if (sent != NULL && strcmp(sent, hash) != 0)
        return err_set(err, ERR_AUTH,
                       "The provided 'x-amz-content-sha256' header does "
                       "not match what was computed.");
    sigv4_signing_key(cache, a, secret, key);
    rc = sigv4_matches(rq, a, key, flags, err);
    if (rc == 1 && a->presigned && a->security_token != NULL)
        rc = sigv4_matches(rq, a, key, flags | SIGV4_OMIT_TOKEN, err);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == 1)
        return err_set(err, ERR_AUTH, "%s", sigv4_mismatch);
    return rc;
}
