/*
 * Durability: kill -9 the server in the middle of a burst of concurrent
 * posts, restart it on the same database, and check that every result
 * that was answered 201 is there, intact.  Run on the open route, the
 * JWT route (tokens from a test issuer, each poster reusing one) and the
 * IAM route (libcurl's own SigV4 signer with a static key).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tissuer.h"
#include "tsupport.h"

#define POSTERS 8
#define MAX_ACKS 200000

struct ack {
    long long id;
    char suite[32];
    int status; /* index into statuses */
};

static const char *const statuses[] = {"pass", "fail", "error", "skip"};
static struct tsrv srv;
static struct ack *acks;
static atomic_int nacks;
static atomic_int stop;
static const char *route = "/lab/results"; /* the route posted to */
static char *auth_header;                  /* "Authorization: ...", or NULL */
static const char *aws_user; /* "KEY:SECRET" for curl's SigV4, or NULL */

static size_t
sink(char *p, size_t size, size_t nmemb, void *arg)
{
    struct tsupport_sink_buf {
        char data[4096];
        size_t len;
    } *b = arg;
    size_t n = size * nmemb;

    if (b->len + n < sizeof b->data) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    }
    return n;
}

static void *
poster(void *arg)
{
    int who = (int)(long)arg;
    struct {
        char data[4096];
        size_t len;
    } out;
    struct curl_slist *hdr =
        curl_slist_append(NULL, "Content-Type: application/json");
    if (auth_header != NULL)
        hdr = curl_slist_append(hdr, auth_header);
    CURL *c = curl_easy_init();
    char url[128], body[256], suite[32];
    long code;

    snprintf(url, sizeof url, "%s%s", srv.base, route);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (aws_user != NULL) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4,
                         "aws:amz:eu-north-1:execute-api");
        curl_easy_setopt(c, CURLOPT_USERPWD, aws_user);
    }
    for (int seq = 0; !atomic_load(&stop); seq++) {
        int st = (who + seq) % 4;
        snprintf(suite, sizeof suite, "p%d-%d", who, seq);
        snprintf(body, sizeof body,
                 "{\"suite\":\"%s\",\"status\":\"%s\",\"seq\":%d}", suite,
                 statuses[st], seq);
        out.len = 0;
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (curl_easy_perform(c) != CURLE_OK)
            break; /* the server is gone */
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 201) {
            json_t *j = json_loads(out.data, 0, NULL);
            int k = atomic_fetch_add(&nacks, 1);
            if (k < MAX_ACKS && j != NULL) {
                acks[k].id = json_integer_value(json_object_get(j, "id"));
                snprintf(acks[k].suite, sizeof acks[k].suite, "%s", suite);
                acks[k].status = st;
            }
            json_decref(j);
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return NULL;
}

/* With srv started: post from POSTERS threads, kill -9, check acks. */
static void
kill_9_mid_burst(void)
{
    pthread_t t[POSTERS];
    struct tresp r;
    int n, missing = 0;

    acks = calloc(MAX_ACKS, sizeof *acks);
    atomic_store(&nacks, 0);
    atomic_store(&stop, 0);
    for (long i = 0; i < POSTERS; i++)
        pthread_create(&t[i], NULL, poster, (void *)i);
    while (atomic_load(&nacks) < 500)
        usleep(1000);
    tsrv_kill9(&srv);
    atomic_store(&stop, 1);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(t[i], NULL);
    n = atomic_load(&nacks);
    if (n > MAX_ACKS)
        n = MAX_ACKS;
    cr_assert_geq(n, 500);

    cr_assert_eq(tsrv_start(&srv, NULL), 0, "restart failed");
    for (int i = 0; i < n; i++) {
        char path[64];
        json_t *j;
        snprintf(path, sizeof path, "/lab/results/%lld", acks[i].id);
        cr_assert_eq(thttp_get(&srv, path, &r), 0);
        if (r.status != 200) {
            missing++;
            tresp_free(&r);
            continue;
        }
        j = json_loads(r.body, 0, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(j, "suite")),
                         acks[i].suite);
        cr_assert_str_eq(json_string_value(json_object_get(j, "status")),
                         statuses[acks[i].status]);
        cr_assert_str_eq(json_string_value(json_object_get(j, "route")), route);
        json_decref(j);
        tresp_free(&r);
    }
    cr_assert_eq(missing, 0, "%d of %d acknowledged results are missing",
                 missing, n);
    cr_assert_eq(tsrv_stop(&srv), 0);
    tsrv_cleanup(&srv);
    free(acks);
}

Test(durability, kill_9_mid_burst_loses_no_acknowledged_result, .timeout = 120)
{
    tsrv_init(&srv);
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    kill_9_mid_burst();
}

Test(durability, kill_9_mid_burst_on_the_jwt_route, .timeout = 120)
{
    struct tissuer *ti = tissuer_start();
    char cfg[1024], *claims, *tok;

    tsrv_init(&srv);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"iam\":{},\"jwt\":{\"issuers\":[{\"issuer\":\"%s\","
             "\"audiences\":[\"lab-api\"],\"allow_insecure_http\":true}]}}",
             tissuer_url(ti));
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    claims = tissuer_github_claims(ti, "\"lab-api\"", 600, NULL);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    auth_header = malloc(strlen(tok) + 32);
    sprintf(auth_header, "Authorization: Bearer %s", tok);
    route = "/lab/results-secure";
    kill_9_mid_burst();
    free(auth_header);
    auth_header = NULL;
    free(tok);
    free(claims);
    tissuer_free(ti);
}

Test(durability, kill_9_mid_burst_on_the_iam_route, .timeout = 120)
{
    static const char cfg[] =
        "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
        "\"jwt\":{},\"iam\":{\"account\":\"123456789012\","
        "\"static_keys\":[{\"access_key_id\":\"AKIADURABILITYTEST01\","
        "\"secret_access_key\":\"durabilitySecretKey0123456789abcdefghij\","
        "\"principal_arn\":\"arn:aws:iam::123456789012:user/ci\","
        "\"policy\":{\"Version\":\"2012-10-17\",\"Statement\":[{"
        "\"Effect\":\"Allow\",\"Action\":\"execute-api:Invoke\","
        "\"Resource\":\"*\"}]}}]}}";

    tsrv_init(&srv);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
    aws_user = "AKIADURABILITYTEST01:durabilitySecretKey0123456789abcdefghij";
    route = "/lab/results-ci";
    kill_9_mid_burst();
    aws_user = NULL;
}
