/*
 * What the views draw, read back from the canvas: the matrix cells with
 * status, counts and strip, the header's totals and stale marker, the
 * too-small message, escaped hostile text, ASCII fallback, clicks, and
 * the follower protocol over the in-memory source.
 */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "canvas.h"
#include "model.h"
#include "source.h"
#include "view.h"

#define NOW 1796000100000LL

static struct model m;
static struct canvas c;

static void
setup(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    model_init(&m, "http://127.0.0.1:8080", NULL);
    memset(&c, 0, sizeof c);
    cr_assert_eq(canvas_resize(&c, 80, 24), 0);
}

static void
teardown(void)
{
    canvas_free(&c);
    model_free(&m);
}

TestSuite(view, .init = setup, .fini = teardown);

static const char *
row(int y)
{
    static char out[4096];

    canvas_row_text(&c, y, out, sizeof out);
    return out;
}

/* A summary with one suite, as text. */
static const char *
summary_text(const char *suite, const char *status, const char *extra)
{
    static char b[4096];

    snprintf(b, sizeof b,
             "{\"last_id\":7,\"cells\":[{\"suite\":\"%s\",\"auth\":\"none\","
             "\"status\":\"%s\",\"last_id\":7,\"counts\":{\"pass\":12,"
             "\"fail\":3,\"error\":0,\"skip\":0},\"recent\":\"PPFP\","
             "\"last\":{\"id\":7,\"received_at\":\"2026-12-01T00:00:00Z\","
             "\"route\":\"/lab/results\",\"auth\":\"none\",\"suite\":\"%s\","
             "\"status\":\"%s\",\"principal\":\"127.0.0.1\",\"identity\":"
             "{\"source_addr\":\"127.0.0.1\"%s}}}]}",
             suite, status, suite, status, extra ? extra : "");
    return b;
}

static void
load(const char *suite, const char *status, const char *extra)
{
    struct err e = {0, ""};
    const char *text = summary_text(suite, status, extra);

    cr_assert_eq(model_apply_summary(&m, text, strlen(text), &e), 0, "%s",
                 e.msg);
}

static int64_t
t_ms(void)
{
    return 1796083200000LL; /* 2026-12-01T00:00:00Z */
}

Test(view, matrix_row_shows_status_counts_age_and_strip)
{
    load("unit", "fail", NULL);
    model_set_live(&m, t_ms());
    view_draw(&m, &c, t_ms() + 125000);
    cr_assert_str_eq(row(2), "SUITE                OPEN (none)         "
                             "JWT (OIDC)          IAM (SigV4)");
    /* The selected cell is reversed over its whole width (19). */
    cr_assert_str_eq(row(3), "unit                 FAIL 12/3 2m PPFP  ");
    cr_assert(c.cells[3 * 80 + 39].attr & CANVAS_REVERSE);
    /* The status word is drawn in the fail colour. */
    cr_assert_eq(c.cells[3 * 80 + 21].attr & CANVAS_ROLE_MASK, CANVAS_FAIL);
    cr_assert(strstr(row(0), "1 suites") != NULL, "%s", row(0));
    cr_assert(strstr(row(0), "fail 1") != NULL, "%s", row(0));
    cr_assert(strstr(row(0), "live") != NULL, "%s", row(0));
}

Test(view, stale_header_shows_age_and_reason)
{
    load("unit", "pass", NULL);
    model_set_live(&m, t_ms());
    model_set_stale(&m, "connection refused", t_ms() + 42000, t_ms() + 44000);
    view_draw(&m, &c, t_ms() + 42000);
    cr_assert(strstr(row(0), "STALE 42s: connection refused, retry in 2s") !=
                  NULL,
              "%s", row(0));
    /* The data is still shown. */
    cr_assert(strncmp(row(3), "unit", 4) == 0);
}

Test(view, hostile_suite_name_is_drawn_escaped)
{
    load("x\\u001b[2Jy", "pass", NULL);
    view_draw(&m, &c, t_ms());
    cr_assert(strncmp(row(3), "x\\x1b[2Jy ", 10) == 0, "%s", row(3));
    for (int i = 0; i < c.w * c.h; i++)
        cr_assert_neq(c.cells[i].ch, 0x1b);
}

Test(view, long_suite_name_is_cut_with_an_ellipsis)
{
    load("a-very-long-suite-name-that-does-not-fit", "pass", NULL);
    view_draw(&m, &c, t_ms());
    cr_assert(strncmp(row(3), "a-very-long-suite-n\xe2\x80\xa6 pass", 26) == 0,
              "%s", row(3));
}

Test(view, ascii_mode_draws_no_utf8)
{
    c.ascii = 1;
    load("caf\\u00e9", "pass", NULL);
    model_set_live(&m, t_ms());
    view_draw(&m, &c, t_ms());
    for (int i = 0; i < c.w * c.h; i++)
        cr_assert_lt(c.cells[i].ch, 0x80);
    cr_assert(strncmp(row(3), "caf? ", 5) == 0, "%s", row(3));
    cr_assert(strstr(row(0), "* live") != NULL, "%s", row(0));
}

Test(view, small_screen_says_it_is_too_small)
{
    cr_assert_eq(canvas_resize(&c, 40, 10), 0);
    view_draw(&m, &c, t_ms());
    cr_assert_str_eq(row(0), "Terminal too small: 40x10.");
    cr_assert_str_eq(row(1), "Needs at least 60x12; q quits.");
}

Test(view, detail_shows_identity_and_escaped_message)
{
    struct result r;
    struct err e = {0, ""};
    json_t *j = json_loads(
        "{\"id\":9,\"received_at\":\"2026-12-01T00:00:00Z\",\"route\":"
        "\"/lab/results-secure\",\"auth\":\"jwt\",\"suite\":\"s\","
        "\"status\":\"pass\",\"principal\":\"repo:o/r:ref:main\","
        "\"payload\":{\"message\":\"hi\\u001b]0;t\\u0007\"},\"identity\":"
        "{\"source_addr\":\"127.0.0.1\",\"issuer\":\"https://iss\","
        "\"subject\":\"repo:o/r:ref:main\",\"repository\":\"o/r\"}}",
        0, NULL);

    cr_assert_eq(result_from_json(&r, j, &e), 0, "%s", e.msg);
    json_decref(j);
    m.view = MODEL_VIEW_DETAIL;
    model_set_detail(&m, &r);
    view_draw(&m, &c, t_ms());
    cr_assert(strstr(row(2), "Result 9") != NULL, "%s", row(2));
    cr_assert_str_eq(row(9), " principal        repo:o/r:ref:main");
    cr_assert_str_eq(row(10), " message          hi\\x1b]0;t\\x07");
    cr_assert_str_eq(row(14), " issuer           https://iss");
    cr_assert_str_eq(row(16), " repository       o/r");
}

Test(view, click_selects_the_matrix_cell_under_the_pointer)
{
    load("unit", "pass", NULL);
    view_draw(&m, &c, t_ms());
    cr_assert_eq(view_click(&m, &c, 3, 45), 1);
    cr_assert_eq(m.sel_row, 0);
    cr_assert_eq(m.sel_col, 1);
    cr_assert_eq(view_click(&m, &c, 9, 45), 0, "no row there");
}

Test(view, once_output_lists_every_suite)
{
    load("unit", "error", NULL);
    cr_assert_eq(view_matrix_plain_rows(&m), 3);
    cr_assert_eq(canvas_resize(&c, 80, 3), 0);
    view_matrix_plain(&m, &c, t_ms());
    cr_assert_str_eq(row(0), "labgate http://127.0.0.1:8080: 1 suites, "
                             "pass 0, fail 0, error 1, skip 0");
    cr_assert_str_eq(row(2), "unit                 ERR! 12/3 0s PPFP");
}

/* The follower reads the summary and feed, then long-polls. */
Test(view, follower_delivers_summary_feed_and_new_results)
{
    struct source *src = source_memory_new();
    struct source_follow f;
    struct source_msg *msg, *next;
    int kinds[8] = {0}, n = 0;

    source_memory_set(src, "/lab/summary", summary_text("u", "pass", NULL),
                      NULL);
    source_memory_set(src, "/lab/results?limit=", "{\"results\":[]}", NULL);
    source_memory_set(src, "/lab/results?after=7&",
                      "{\"results\":[{\"id\":8,\"received_at\":\"2026-12-"
                      "01T00:00:01Z\",\"auth\":\"none\",\"suite\":\"u\","
                      "\"status\":\"fail\"}]}",
                      NULL);
    source_memory_set(src, "/lab/results?after=8&", "{\"results\":[]}", NULL);
    cr_assert_eq(source_follow_start(&f, src, 60, 1, NULL), 0);
    for (int tries = 0; tries < 200 && n < 3; tries++) {
        usleep(10000);
        for (msg = source_follow_take(&f); msg; msg = next) {
            next = msg->next;
            if (n < 8)
                kinds[n++] = msg->kind;
            if (msg->kind == SOURCE_MSG_RESULTS)
                cr_assert_eq(json_integer_value(json_object_get(
                                 json_array_get(msg->doc, 0), "id")),
                             8);
            source_msg_free(msg);
        }
    }
    source_follow_stop(&f);
    cr_assert_geq(n, 3);
    cr_assert_eq(kinds[0], SOURCE_MSG_SUMMARY);
    cr_assert_eq(kinds[1], SOURCE_MSG_FEED);
    cr_assert_eq(kinds[2], SOURCE_MSG_RESULTS);
}

Test(view, follower_reports_failure_with_reason_and_retries)
{
    struct source *src = source_memory_new();
    struct source_follow f;
    struct source_msg *msg, *next;
    char reason[SOURCE_REASON_MAX] = "";
    int64_t retry = 0, at = 0;

    source_memory_set(src, "/lab/summary", NULL, "connection refused");
    cr_assert_eq(source_follow_start(&f, src, 60, 1, NULL), 0);
    for (int tries = 0; tries < 200 && reason[0] == '\0'; tries++) {
        usleep(10000);
        for (msg = source_follow_take(&f); msg; msg = next) {
            next = msg->next;
            if (msg->kind == SOURCE_MSG_FAILED && reason[0] == '\0') {
                snprintf(reason, sizeof reason, "%s", msg->reason);
                retry = msg->retry_ms;
                at = msg->at_ms;
            }
            source_msg_free(msg);
        }
    }
    cr_assert_str_eq(reason, "connection refused");
    cr_assert_geq(retry - at, 400);
    cr_assert_leq(retry - at, 600);
    /* After the backoff it asks again. */
    usleep(700000);
    cr_assert_geq(source_memory_calls(f.src), 2);
    source_follow_stop(&f);
}

Test(view, backoff_doubles_up_to_the_cap)
{
    cr_assert_eq(source_backoff_ms(0, 5000), 500);
    cr_assert_eq(source_backoff_ms(1, 5000), 1000);
    cr_assert_eq(source_backoff_ms(3, 5000), 4000);
    cr_assert_eq(source_backoff_ms(4, 5000), 5000);
    cr_assert_eq(source_backoff_ms(40, 5000), 5000);
}

/* The summary path carries the prefix percent-encoded, or nothing. */
Test(view, summary_path_encodes_the_prefix)
{
    char path[SOURCE_PATH_MAX], long_prefix[SOURCE_PREFIX_MAX + 2];

    cr_assert_eq(source_summary_path(NULL, path), 0);
    cr_assert_str_eq(path, "/lab/summary");
    cr_assert_eq(source_summary_path("", path), 0);
    cr_assert_str_eq(path, "/lab/summary");
    cr_assert_eq(source_summary_path("team a/\xc3\xbc-x_y.z~&=+%", path), 0);
    cr_assert_str_eq(path, "/lab/summary?prefix=team%20a%2F%C3%BC-x_y.z~"
                           "%26%3D%2B%25");
    memset(long_prefix, 'x', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    cr_assert_eq(source_summary_path(long_prefix, path), ERR_INVALID);
    long_prefix[SOURCE_PREFIX_MAX] = '\0';
    cr_assert_eq(source_summary_path(long_prefix, path), 0);
    cr_assert_eq(strlen(path),
                 strlen("/lab/summary?prefix=") + SOURCE_PREFIX_MAX);
}
