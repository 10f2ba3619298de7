/*
 * SigV4 verification against AWS's official test vectors (copied into
 * tests/data/aws-sigv4-testsuite with their licence), in both the header
 * and the presigned form, plus the refusals the vectors do not cover.
 * Each case's request is parsed from the raw HTTP text in the suite.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"

#define SUITE_DIR LABGATE_SOURCE_DIR "/tests/data/aws-sigv4-testsuite/v4"
#define MAX_CASES 64

/* A raw HTTP request from the suite, split into sigv4_request parts. */
struct raw_req {
    char *text;
    char method[16];
    char *path, *query;
    struct sigv4_header headers[SIGV4_HEADERS_MAX];
    char *hbuf[SIGV4_HEADERS_MAX];
    size_t nheaders;
    struct sigv4_request rq;
};

static char *
slurp(const char *dir, const char *name)
{
    char path[1024];
    FILE *f;
    long n;
    char *s;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

/* Parse the request line, headers (with folded lines) and body. */
static void
raw_parse(struct raw_req *r, char *text)
{
    char *line, *next, *sp, *target, *q;

    memset(r, 0, sizeof *r);
    r->text = text;
    next = strchr(text, '\n');
    cr_assert_not_null(next);
    *next++ = '\0';
    sp = strchr(text, ' ');
    cr_assert_not_null(sp);
    snprintf(r->method, sizeof r->method, "%.*s", (int)(sp - text), text);
    target = sp + 1;
    *strstr(target, " HTTP/1.1") = '\0';
    q = strchr(target, '?');
    if (q != NULL)
        *q++ = '\0';
    r->path = target;
    r->query = q;
    while ((line = next) != NULL) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (*line == '\0')
            break;
        if (*line == ' ' || *line == '\t') {
            char *prev = r->hbuf[r->nheaders - 1];
            size_t n = strlen(prev) + strlen(line) + 2;
            char *joined = malloc(n);
            snprintf(joined, n, "%s\n%s", prev, line);
            free(prev);
            r->hbuf[r->nheaders - 1] = joined;
            r->headers[r->nheaders - 1].value = joined;
            continue;
        }
        char *colon = strchr(line, ':');
        cr_assert_not_null(colon, "bad header line %s", line);
        *colon = '\0';
        r->hbuf[r->nheaders] = strdup(colon + 1);
        r->headers[r->nheaders].name = line;
        r->headers[r->nheaders].value = r->hbuf[r->nheaders];
        r->nheaders++;
    }
    r->rq.method = r->method;
    r->rq.path = r->path;
    r->rq.query = r->query;
    r->rq.headers = r->headers;
    r->rq.nheaders = r->nheaders;
    r->rq.body = next ? next : "";
    r->rq.body_len = next ? strlen(next) : 0;
}

static void
raw_free(struct raw_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->hbuf[i]);
    free(r->text);
}

struct vcase {
    char dir[512];
    char name[128];
    json_t *ctx;
};

static size_t
load_cases(struct vcase *cases)
{
    DIR *d = opendir(SUITE_DIR);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d, "test vectors missing at %s", SUITE_DIR);
    while ((e = readdir(d)) != NULL) {
        char *text;
        if (e->d_name[0] == '.')
            continue;
        cr_assert_lt(n, MAX_CASES);
        snprintf(cases[n].dir, sizeof cases[n].dir, "%s/%s", SUITE_DIR,
                 e->d_name);
        snprintf(cases[n].name, sizeof cases[n].name, "%s", e->d_name);
        text = slurp(cases[n].dir, "context.json");
        cases[n].ctx = json_loads(text, 0, NULL);
        free(text);
        cr_assert_not_null(cases[n].ctx, "%s: bad context.json", e->d_name);
        n++;
    }
    closedir(d);
    /* The suite published by AWS has 38 cases; all must be present. */
    cr_assert_eq(n, 38, "found %zu cases", n);
    return n;
}

static const char *
ctx_str(const struct vcase *c, const char *a, const char *b)
{
    json_t *v = json_object_get(c->ctx, a);

    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static int
ctx_true(const struct vcase *c, const char *key)
{
    return json_is_true(json_object_get(c->ctx, key));
}

static int64_t
ctx_time(const struct vcase *c)
{
    const char *ts = ctx_str(c, "timestamp", NULL);
    char basic[17];
    int64_t t;

    /* "2015-08-30T12:36:00Z" to the basic form the parser takes. */
    snprintf(basic, sizeof basic, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5,
             ts + 8, ts + 11, ts + 14, ts + 17);
    cr_assert_eq(sigv4_parse_amz_date(basic, &t), 0);
    return t;
}

static unsigned
case_flags(const struct vcase *c, const char *form)
{
    unsigned f = ctx_true(c, "normalize") ? SIGV4_NORMALIZE : 0;

    if (strcmp(form, "query") == 0 && ctx_true(c, "omit_session_token"))
        f |= SIGV4_OMIT_TOKEN;
    return f;
}

/* Run fn on every case in both forms. */
typedef void (*case_fn)(const struct vcase *c, const char *form,
                        struct raw_req *signed_rq, struct sigv4_auth *a);

static void
each_case(case_fn fn)
{
    static const char *const forms[] = {"header", "query"};
    struct vcase cases[MAX_CASES];
    size_t n = load_cases(cases);

    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < 2; f++) {
            char file[64];
            struct raw_req r;
            struct sigv4_auth a;
            struct err e = {0, ""};

            snprintf(file, sizeof file, "%s-signed-request.txt", forms[f]);
            raw_parse(&r, slurp(cases[i].dir, file));
            cr_assert_eq(sigv4_parse(&r.rq, &a, &e), 0, "%s/%s: %s",
                         cases[i].name, forms[f], e.msg);
            cr_assert_eq(a.presigned, f == 1);
            fn(&cases[i], forms[f], &r, &a);
            sigv4_auth_free(&a);
            raw_free(&r);
        }
        json_decref(cases[i].ctx);
    }
}

static void
check_creq(const struct vcase *c, const char *form, struct raw_req *r,
           struct sigv4_auth *a)
{
    char file[64];
    struct buf out = BUF_INIT;
    struct err e = {0, ""};
    char *want;

    snprintf(file, sizeof file, "%s-canonical-request.txt", form);
    want = slurp(c->dir, file);
    cr_assert_eq(
        sigv4_canonical_request(&r->rq, a, case_flags(c, form), &out, &e), 0,
        "%s: %s", c->name, e.msg);
    cr_assert_str_eq(out.data, want, "%s/%s", c->name, form);
    free(want);
    buf_free(&out);
}

static void
check_sts(const struct vcase *c, const char *form, struct raw_req *r,
          struct sigv4_auth *a)
{
    char file[64];
    struct buf creq = BUF_INIT, sts = BUF_INIT;
    struct err e = {0, ""};
    char *want;

    snprintf(file, sizeof file, "%s-string-to-sign.txt", form);
    want = slurp(c->dir, file);
    cr_assert_eq(
        sigv4_canonical_request(&r->rq, a, case_flags(c, form), &creq, &e), 0);
    cr_assert_eq(sigv4_string_to_sign(a, creq.data, &sts), 0);
    cr_assert_str_eq(sts.data, want, "%s/%s", c->name, form);
    free(want);
    buf_free(&creq);
    buf_free(&sts);
}

static void
check_signature(const struct vcase *c, const char *form, struct raw_req *r,
                struct sigv4_auth *a)
{
    char file[64], sig[65];
    struct buf creq = BUF_INIT, sts = BUF_INIT;
    struct err e = {0, ""};
    unsigned char key[32];
    char *want;

    snprintf(file, sizeof file, "%s-signature.txt", form);
    want = slurp(c->dir, file);
    cr_assert_eq(
        sigv4_canonical_request(&r->rq, a, case_flags(c, form), &creq, &e), 0);
    cr_assert_eq(sigv4_string_to_sign(a, creq.data, &sts), 0);
    sigv4_signing_key(NULL, a, ctx_str(c, "credentials", "secret_access_key"),
                      key);
    sigv4_sign(key, sts.data, sig);
    cr_assert_str_eq(sig, want, "%s/%s", c->name, form);
    cr_assert_str_eq(a->signature, want, "%s/%s", c->name, form);
    free(want);
    buf_free(&creq);
    buf_free(&sts);
}

static void
check_verifies(const struct vcase *c, const char *form, struct raw_req *r,
               struct sigv4_auth *a)
{
    static struct sigv4_cache cache;
    struct sigv4_expect ex = {0};
    struct err e = {0, ""};

    sigv4_cache_init(&cache);
    ex.region = ctx_str(c, "region", NULL);
    ex.service = ctx_str(c, "service", NULL);
    ex.now = ctx_time(c);
    ex.max_skew = 300;
    ex.normalize = ctx_true(c, "normalize");
    cr_assert_str_eq(a->access_key_id,
                     ctx_str(c, "credentials", "access_key_id"));
    cr_assert_eq(sigv4_check_scope(a, &ex, &e), 0, "%s/%s: %s", c->name, form,
                 e.msg);
    /* Twice: the second run takes the signing key from the cache. */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(
            sigv4_verify(&r->rq, a,
                         ctx_str(c, "credentials", "secret_access_key"), &ex,
                         &cache, &e),
            0, "%s/%s: %s", c->name, form, e.msg);
    if (ctx_str(c, "credentials", "token") != NULL &&
        (strcmp(form, "query") == 0 || !ctx_true(c, "omit_session_token")))
        cr_assert_str_eq(a->security_token, ctx_str(c, "credentials", "token"));
    sigv4_cache_destroy(&cache);
}

Test(sigv4, vectors_canonical_request_matches)
{
    each_case(check_creq);
}

Test(sigv4, vectors_string_to_sign_matches)
{
    each_case(check_sts);
}

Test(sigv4, vectors_signature_matches)
{
    each_case(check_signature);
}

Test(sigv4, vectors_signed_request_verifies_at_case_time)
{
    each_case(check_verifies);
}

/* A request built in the test, signed with the library's own pieces. */
struct built {
    struct sigv4_header h[4];
    struct sigv4_request rq;
    char authz[512];
};

#define T0 1440938160 /* 2015-08-30T12:36:00Z, the vectors' time */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static void
build_signed(struct built *b, const char *date_name, const char *date)
{
    struct sigv4_auth a;
    struct buf creq = BUF_INIT, sts = BUF_INIT;
    struct err e = {0, ""};
    unsigned char key[32];
    char sig[65];

    memset(b, 0, sizeof *b);
    b->h[0] = (struct sigv4_header){"Host", "example.amazonaws.com"};
    b->h[1] = (struct sigv4_header){date_name, date};
    b->rq = (struct sigv4_request){"GET", "/", NULL, b->h, 2, NULL, 0};
    memset(&a, 0, sizeof a);
    snprintf(a.access_key_id, sizeof a.access_key_id, "AKIDEXAMPLE");
    snprintf(a.scope_date, sizeof a.scope_date, "20150830");
    snprintf(a.region, sizeof a.region, "us-east-1");
    snprintf(a.service, sizeof a.service, "service");
    snprintf(a.terminator, sizeof a.terminator, "aws4_request");
    snprintf(a.signed_headers, sizeof a.signed_headers, "host;%s",
             strcmp(date_name, "Date") == 0 ? "date" : "x-amz-date");
    snprintf(a.amz_date, sizeof a.amz_date, "20150830T123600Z");
    cr_assert_eq(
        sigv4_canonical_request(&b->rq, &a, SIGV4_NORMALIZE, &creq, &e), 0);
    cr_assert_eq(sigv4_string_to_sign(&a, creq.data, &sts), 0);
    sigv4_signing_key(NULL, &a, SECRET, key);
    sigv4_sign(key, sts.data, sig);
    snprintf(b->authz, sizeof b->authz,
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
             "service/aws4_request, SignedHeaders=%s, Signature=%s",
             a.signed_headers, sig);
    b->h[2] = (struct sigv4_header){"Authorization", b->authz};
    b->rq.nheaders = 3;
    buf_free(&creq);
    buf_free(&sts);
}

static int
check_at(const struct built *b, int64_t now, struct err *e)
{
    struct sigv4_expect ex = {"us-east-1", "service", now, 300, 1};
    struct sigv4_auth a;
    int rc = sigv4_parse(&b->rq, &a, e);

    if (rc == 0)
        rc = sigv4_check_scope(&a, &ex, e);
    if (rc == 0)
        rc = sigv4_verify(&b->rq, &a, SECRET, &ex, NULL, e);
    sigv4_auth_free(&a);
    return rc;
}

Test(sigv4, date_header_can_replace_x_amz_date)
{
    struct built b;
    struct err e = {0, ""};

    build_signed(&b, "Date", "Sun, 30 Aug 2015 12:36:00 GMT");
    cr_assert_eq(check_at(&b, T0, &e), 0, "%s", e.msg);
}

Test(sigv4, skew_limit_is_inclusive_and_applies_both_ways)
{
    struct built b;
    struct err e = {0, ""};

    build_signed(&b, "X-Amz-Date", "20150830T123600Z");
    cr_assert_eq(check_at(&b, T0 + 300, &e), 0, "%s", e.msg);
    cr_assert_eq(check_at(&b, T0 - 300, &e), 0, "%s", e.msg);
    cr_assert_eq(check_at(&b, T0 + 301, &e), ERR_AUTH);
    cr_assert_str_eq(e.msg, "Signature expired: 20150830T123600Z is now "
                            "earlier than 20150830T123601Z (20150830T124101Z "
                            "- 5 min.)");
    cr_assert_eq(check_at(&b, T0 - 301, &e), ERR_AUTH);
    cr_assert_str_eq(e.msg, "Signature not yet current: 20150830T123600Z is "
                            "still later than 20150830T123559Z "
                            "(20150830T123059Z + 5 min.)");
}

Test(sigv4, scope_date_must_match_request_date)
{
    struct built b;
    struct err e = {0, ""};

    build_signed(&b, "X-Amz-Date", "20150831T000000Z");
    cr_assert_eq(check_at(&b, T0 + 41040, &e), ERR_AUTH);
    cr_assert_str_eq(e.msg, "Date in Credential scope does not match "
                            "YYYYMMDD from ISO-8601 version of date from "
                            "HTTP: '20150830' != '20150831', from "
                            "'20150831T000000Z'.");
}

Test(sigv4, unsigned_date_header_and_missing_host_are_refused)
{
    struct sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
        {"Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
         "service/aws4_request, SignedHeaders=host, Signature=00"}};
    struct sigv4_request rq = {"GET", "/", NULL, h, 3, NULL, 0};
    struct sigv4_auth a;
    struct err e = {0, ""};

    cr_assert_eq(sigv4_parse(&rq, &a, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "'X-Amz-Date' must be a 'SignedHeader' in the "
                            "AWS Authorization.");
    sigv4_auth_free(&a);
    h[2].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                 "us-east-1/service/aws4_request, SignedHeaders=x-amz-date, "
                 "Signature=00";
    cr_assert_eq(sigv4_parse(&rq, &a, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "'Host' or ':authority' must be a "
                            "'SignedHeader' in the AWS Authorization.");
    sigv4_auth_free(&a);
}

Test(sigv4, presigned_url_lives_for_x_amz_expires)
{
    struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    struct sigv4_request rq = {
        "GET",
        "/",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
        "20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date="
        "20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&"
        "X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b"
        "25b7192d3865d",
        h,
        1,
        NULL,
        0};
    struct sigv4_expect ex = {"us-east-1", "service", T0 + 3600, 300, 1};
    struct sigv4_auth a;
    struct err e = {0, ""};

    cr_assert_eq(sigv4_parse(&rq, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(sigv4_check_scope(&a, &ex, &e), 0, "%s", e.msg);
    cr_assert_eq(sigv4_verify(&rq, &a, SECRET, &ex, NULL, &e), 0);
    ex.now = T0 + 3601;
    cr_assert_eq(sigv4_check_scope(&a, &ex, &e), ERR_AUTH);
    cr_assert_str_eq(e.msg, "Signature expired: 20150830T123600Z is now "
                            "earlier than 20150830T123601Z (20150830T133601Z "
                            "- 60 min.)");
    sigv4_auth_free(&a);
}

Test(sigv4, cache_never_serves_a_key_for_another_secret)
{
    struct sigv4_cache cache;
    struct sigv4_auth a;
    unsigned char k1[32], k2[32], k3[32];

    memset(&a, 0, sizeof a);
    snprintf(a.access_key_id, sizeof a.access_key_id, "AKIDEXAMPLE");
    snprintf(a.scope_date, sizeof a.scope_date, "20150830");
    snprintf(a.region, sizeof a.region, "us-east-1");
    snprintf(a.service, sizeof a.service, "service");
    snprintf(a.terminator, sizeof a.terminator, "aws4_request");
    sigv4_cache_init(&cache);
    sigv4_signing_key(&cache, &a, SECRET, k1);
    sigv4_signing_key(&cache, &a, "another-secret-entirely", k2);
    sigv4_signing_key(NULL, &a, "another-secret-entirely", k3);
    cr_assert_neq(memcmp(k1, k2, 32), 0);
    cr_assert_eq(memcmp(k2, k3, 32), 0);
    sigv4_cache_destroy(&cache);
}

Test(sigv4, signatures_compare_only_when_equal)
{
    cr_assert(sigv4_equal("abcd", "abcd"));
    cr_assert_not(sigv4_equal("abcd", "abce"));
    cr_assert_not(sigv4_equal("abcd", "abc"));
}

Test(sigv4, nothing_signed_is_not_found)
{
    struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    struct sigv4_request rq = {"GET", "/", "a=1", h, 1, NULL, 0};
    struct sigv4_auth a;
    struct err e = {0, ""};

    cr_assert_eq(sigv4_parse(&rq, &a, &e), ERR_NOTFOUND);
    cr_assert_str_eq(e.msg, "Missing Authentication Token");
    sigv4_auth_free(&a);
}

Test(sigv4, other_authorization_schemes_list_every_missing_part)
{
    struct sigv4_header h[] = {{"Host", "example.amazonaws.com"},
                               {"Authorization", "Bearer abc.def.ghi"}};
    struct sigv4_request rq = {"GET", "/", NULL, h, 2, NULL, 0};
    struct sigv4_auth a;
    struct err e = {0, ""};

    cr_assert_eq(sigv4_parse(&rq, &a, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg,
                     "Authorization header requires 'Credential' parameter. "
                     "Authorization header requires 'Signature' parameter. "
                     "Authorization header requires 'SignedHeaders' "
                     "parameter. Authorization header requires existence of "
                     "either a 'X-Amz-Date' or a 'Date' header.");
    sigv4_auth_free(&a);
}

/*
 * The canonical request of GET path?query with only a host header
 * signed, into out; returns what sigv4_canonical_request returned.
 */
static int
canonical(const char *path, const char *query, struct buf *out, struct err *e)
{
    struct sigv4_header h = {"Host", "h"};
    struct sigv4_request rq = {"GET", path, query, &h, 1, NULL, 0};
    struct sigv4_auth a;

    memset(&a, 0, sizeof a);
    snprintf(a.signed_headers, sizeof a.signed_headers, "host");
    buf_reset(out);
    return sigv4_canonical_request(&rq, &a, SIGV4_NORMALIZE, out, e);
}

/* The canonical query line (the third) of path?query. */
static void
expect_query(const char *query, const char *want)
{
    struct buf out = BUF_INIT;
    struct err e = {0, ""};
    char *line, *end;

    cr_assert_eq(canonical("/", query, &out, &e), 0, "%s: %s", query, e.msg);
    line = strchr(strchr(out.data, '\n') + 1, '\n') + 1;
    end = strchr(line, '\n');
    cr_assert_eq(strncmp(line, want, (size_t)(end - line)), 0,
                 "%s: got %.*s, want %s", query, (int)(end - line), line, want);
    cr_assert_eq(strlen(want), (size_t)(end - line), "%s: got %.*s", query,
                 (int)(end - line), line);
    buf_free(&out);
}

Test(sigv4, query_parameters_are_decoded_encoded_again_and_sorted)
{
    char big[3 * 200 + 8], want[3 * 200 + 8];

    expect_query("b=2&a=1", "a=1&b=2");
    expect_query("flag&a=", "a=&flag=");
    expect_query("=v&a=1", "=v&a=1");
    expect_query("a=%2f%2F/&b=+", "a=%2F%2F%2F&b=%2B");
    expect_query("a=%e2%82%ac%7E-_.", "a=%E2%82%AC~-_.");
    expect_query("k%20y=v%20w", "k%20y=v%20w");
    expect_query("a=2&a=1&&a=10", "a=1&a=10&a=2");
    /* Longer than any fixed chunk: every byte escaped. */
    strcpy(big, "v=");
    strcpy(want, "v=");
    for (int i = 0; i < 200; i++) {
        strcat(big, "%40");
        strcat(want, "%40");
    }
    expect_query(big, want);
}

Test(sigv4, badly_encoded_query_parameters_are_refused)
{
    static const char *const bad[] = {"a=%zz", "a=%4",  "a=%",
                                      "%g1=b", "a=%00", "a%00=b"};
    struct buf out = BUF_INIT;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0, ""};
        cr_assert_eq(canonical("/", bad[i], &out, &e), ERR_INVALID, "%s",
                     bad[i]);
        cr_assert_str_eq(e.msg, "query: badly percent-encoded parameter", "%s",
                         bad[i]);
    }
    buf_free(&out);
}

Test(sigv4, long_paths_are_normalised_and_encoded)
{
    struct buf out = BUF_INIT, want = BUF_INIT;
    struct err e = {0, ""};
    char path[512];

    /* More segments than fit on the stack, dot segments among them. */
    strcpy(path, "");
    for (int i = 0; i < 39; i++)
        strcat(path, i % 4 == 3 ? "/x/.." : "/a b");
    cr_assert_eq(canonical(path, NULL, &out, &e), 0, "%s", e.msg);
    buf_puts(&want, "GET\n");
    for (int i = 0; i < 39; i++)
        if (i % 4 != 3)
            buf_puts(&want, "/a%20b");
    buf_puts(&want, "\n");
    cr_assert_eq(strncmp(out.data, want.data, want.len), 0, "%s", out.data);

    /* One segment longer than the encoder's chunk, every byte escaped. */
    buf_reset(&want);
    strcpy(path, "/");
    buf_puts(&want, "GET\n/");
    for (int i = 0; i < 100; i++) {
        strcat(path, "*");
        buf_puts(&want, "%2A");
    }
    buf_puts(&want, "\n");
    cr_assert_eq(canonical(path, NULL, &out, &e), 0, "%s", e.msg);
    cr_assert_eq(strncmp(out.data, want.data, want.len), 0, "%s", out.data);
    buf_free(&out);
    buf_free(&want);
}

Test(sigv4, amz_dates_are_parsed_exactly)
{
    int64_t t;

    cr_assert_eq(sigv4_parse_amz_date("20150830T123600Z", &t), 0);
    cr_assert_eq(t, T0);
    cr_assert_eq(sigv4_parse_amz_date("20241231T235960Z", &t), 0);
    cr_assert_eq(t, 1735689600); /* a leap second rolls over */
    cr_assert_eq(sigv4_parse_amz_date("20150830T123600", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("2015083OT123600Z", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("20151330T123600Z", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("20150800T123600Z", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("20150830T243600Z", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("+0150830T123600Z", &t), -1);
    cr_assert_eq(sigv4_parse_amz_date("20150830 123600Z", &t), -1);
}
