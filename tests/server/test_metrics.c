/*
 * The metrics module on its own: what each recording function adds to
 * the Prometheus text, label cleaning, the cap on distinct reasons, and
 * cumulative histogram buckets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "route.h"
#include "server.h"

static struct server srv;
static struct buf text;

static void
setup(void)
{
    struct err e;

    memset(&srv, 0, sizeof srv);
    srv.started_ms = 1700000000123;
    cr_assert_eq(metrics_create(&srv.metrics, &e), 0);
}

static void
teardown(void)
{
    metrics_free(srv.metrics);
    buf_free(&text);
}

TestSuite(metrics, .init = setup, .fini = teardown);

static const char *
render(void)
{
    buf_reset(&text);
    cr_assert_eq(metrics_render(&srv, &text), 0);
    return text.data;
}

static void
expect_line(const char *line)
{
    char want[512];

    snprintf(want, sizeof want, "\n%s\n", line);
    cr_assert(strstr(render(), want) != NULL, "missing line '%s' in:\n%s", line,
              text.data);
}

static void
expect_no(const char *fragment)
{
    cr_assert(strstr(render(), fragment) == NULL, "unexpected '%s' in:\n%s",
              fragment, text.data);
}

static const struct route *
route_named(const char *method, const char *path)
{
    for (const struct route *r = route_table; r->method; r++)
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
            return r;
    cr_assert_fail("no route %s %s", method, path);
    return NULL;
}

Test(metrics, requests_are_counted_by_route_and_status)
{
    const struct route *post = route_named("POST", "/lab/results");
    const struct route *one = route_named("GET", "/lab/results/");

    metrics_request(&srv, post, 201, 2000000);
    metrics_request(&srv, post, 201, 3000000);
    metrics_request(&srv, post, 400, 100000);
    metrics_request(&srv, one, 404, 100000);
    metrics_request(&srv, NULL, 404, 100000);
    expect_line("labgate_http_requests_total{method=\"POST\",route=\"/lab/"
                "results\",status=\"201\"} 2");
    expect_line("labgate_http_requests_total{method=\"POST\",route=\"/lab/"
                "results\",status=\"400\"} 1");
    expect_line("labgate_http_requests_total{method=\"GET\",route=\"/lab/"
                "results/{id}\",status=\"404\"} 1");
    expect_line("labgate_http_requests_total{method=\"\",route=\"unmatched\","
                "status=\"404\"} 1");
    expect_no("status=\"200\"");
    /* 0.1 ms, 2 ms and 3 ms: cumulative buckets. */
    expect_line("labgate_http_request_duration_seconds_bucket{method="
                "\"POST\",route=\"/lab/results\",le=\"0.0005\"} 1");
    expect_line("labgate_http_request_duration_seconds_bucket{method="
                "\"POST\",route=\"/lab/results\",le=\"0.0025\"} 2");
    expect_line("labgate_http_request_duration_seconds_bucket{method="
                "\"POST\",route=\"/lab/results\",le=\"0.005\"} 3");
    expect_line("labgate_http_request_duration_seconds_bucket{method="
                "\"POST\",route=\"/lab/results\",le=\"+Inf\"} 3");
    expect_line("labgate_http_request_duration_seconds_sum{method=\"POST\","
                "route=\"/lab/results\"} 0.0051");
    expect_line("labgate_http_request_duration_seconds_count{method=\"POST\","
                "route=\"/lab/results\"} 3");
}

Test(metrics, auth_failure_reasons_are_cleaned_and_capped)
{
    char reason[32];

    metrics_auth_failure(&srv, "expired");
    metrics_auth_failure(&srv, "expired");
    metrics_auth_failure(&srv, "Bad Sig\"\n");
    metrics_auth_failure(&srv, "");
    expect_line("labgate_auth_failures_total{reason=\"expired\"} 2");
    expect_line("labgate_auth_failures_total{reason=\"_ad__ig__\"} 1");
    expect_line("labgate_auth_failures_total{reason=\"_\"} 1");
    expect_no("reason=\"other\"");
    for (int i = 0; i < METRICS_REASONS_MAX + 5; i++) {
        snprintf(reason, sizeof reason, "r%d", i);
        metrics_auth_failure(&srv, reason);
    }
    /* Three slots were taken above, so 8 new reasons did not fit. */
    expect_line("labgate_auth_failures_total{reason=\"other\"} 8");
    expect_line("labgate_auth_failures_total{reason=\"r60\"} 1");
    expect_no("reason=\"r61\"");
}

Test(metrics, store_commits_fill_both_histograms)
{
    metrics_store_commit(srv.metrics, 1, 1000000, 1);
    metrics_store_commit(srv.metrics, 40, 4000000, 1);
    metrics_store_commit(srv.metrics, 0, 9000000, 0);
    expect_line("labgate_store_commits_total{result=\"ok\"} 2");
    expect_line("labgate_store_commits_total{result=\"error\"} 1");
    expect_line("labgate_store_commit_batch_rows_bucket{le=\"1\"} 1");
    expect_line("labgate_store_commit_batch_rows_bucket{le=\"32\"} 1");
    expect_line("labgate_store_commit_batch_rows_bucket{le=\"64\"} 2");
    expect_line("labgate_store_commit_batch_rows_sum 41");
    expect_line("labgate_store_commit_batch_rows_count 2");
    expect_line("labgate_store_commit_duration_seconds_count 3");
    expect_line("labgate_store_commit_duration_seconds_bucket{le=\"0.001\"} "
                "1");
    expect_line("labgate_store_commit_duration_seconds_bucket{le=\"0.005\"} "
                "2");
    expect_line("labgate_store_commit_duration_seconds_bucket{le=\"0.01\"} "
                "3");
}

Test(metrics, jwks_sts_and_watchers)
{
    metrics_jwks_fetch(&srv, 1);
    metrics_jwks_fetch(&srv, 0);
    metrics_jwks_fetch(&srv, 1);
    metrics_sts_issued(&srv);
    metrics_watchers_add(&srv, 1);
    metrics_watchers_add(&srv, 1);
    metrics_watchers_add(&srv, -1);
    expect_line("labgate_jwks_fetches_total 3");
    expect_line("labgate_jwks_fetch_failures_total 1");
    expect_line("labgate_sts_credentials_issued_total 1");
    expect_line("labgate_watchers 1");
    expect_line("labgate_start_time_seconds 1700000000.123");
    expect_line("# TYPE labgate_watchers gauge");
}

Test(metrics, null_metrics_record_nothing)
{
    struct server bare;

    memset(&bare, 0, sizeof bare);
    metrics_request(&bare, NULL, 200, 1);
    metrics_auth_failure(&bare, "x");
    metrics_store_commit(NULL, 1, 1, 1);
    metrics_jwks_fetch(&bare, 1);
    metrics_sts_issued(&bare);
    metrics_watchers_add(&bare, 1);
    metrics_request(NULL, NULL, 200, 1);
}
