/*
 * The dashboard model, keys and views without a terminal: summaries and
 * results applied in any order and overlap, sorting and filtering, the
 * feed, the detail record, key actions, what the views draw into a
 * canvas, and the follower protocol over the in-memory source.
 */
#include <criterion/criterion.h>
#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "canvas.h"
#include "input.h"
#include "model.h"
#include "source.h"
#include "view.h"

#define T0 1796000000000LL /* a fixed "now" for ages */

static struct model m;

static void
setup(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    model_init(&m, "http://127.0.0.1:8080", NULL);
}

static void
teardown(void)
{
    model_free(&m);
}

TestSuite(model, .init = setup, .fini = teardown);

/* The JSON of a stored result as the server sends it. */
static char *
result_json(long long id, const char *suite, const char *status,
            const char *auth, const char *extra_ident)
{
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];

    snprintf(b, 1024,
             "{\"id\":%lld,\"received_at\":\"2026-12-01T00:00:%02lldZ\","
             "\"route\":\"/lab/results\",\"auth\":\"%s\",\"suite\":\"%s\","
             "\"status\":\"%s\",\"principal\":\"127.0.0.1\","
             "\"payload\":{\"suite\":\"%s\",\"status\":\"%s\","
             "\"message\":\"m%lld\"},"
             "\"identity\":{\"source_addr\":\"127.0.0.1\"%s}}",
             id, id % 60, auth, suite, status, suite, status, id,
             extra_ident ? extra_ident : "");
    return b;
}

static json_t *
parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    cr_assert_not_null(j, "bad test JSON: %s: %s", e.text, text);
    return j;
}

static void
apply_summary(const char *cells, long long last_id)
{
    char text[8192];
    struct err e = {0, ""};

    snprintf(text, sizeof text, "{\"last_id\":%lld,\"cells\":[%s]}", last_id,
             cells);
    cr_assert_eq(model_apply_summary(&m, text, strlen(text), &e), 0, "%s",
                 e.msg);
}

static char *
cell_json(const char *suite, const char *auth, const char *status, long long id,
          int pass, int fail, const char *recent)
{
    static char buf[8][2048];
    static int k;
    char *b = buf[k++ % 8];

    snprintf(b, 2048,
             "{\"suite\":\"%s\",\"auth\":\"%s\",\"status\":\"%s\","
             "\"last_id\":%lld,\"counts\":{\"pass\":%d,\"fail\":%d,"
             "\"error\":0,\"skip\":0},\"recent\":\"%s\",\"last\":%s}",
             suite, auth, status, id, pass, fail, recent,
             result_json(id, suite, status, auth, NULL));
    return b;
}

static int
apply_results(const char *items, int reset)
{
    char text[8192];
    struct err e = {0, ""};
    json_t *j;
    int n;

    snprintf(text, sizeof text, "[%s]", items);
    j = parse(text);
    n = model_apply_results(&m, j, reset, &e);
    cr_assert_geq(n, 0, "%s", e.msg);
    json_decref(j);
    return n;
}

static const struct model_suite *
suite(const char *name)
{
    for (size_t i = 0; i < m.nsuites; i++)
        if (strcmp(m.suites[i].name, name) == 0)
            return &m.suites[i];
    return NULL;
}

Test(model, summary_fills_cells_per_suite_and_auth_path)
{
    char cells[4096];

    snprintf(cells, sizeof cells, "%s,%s,%s",
             cell_json("api", "none", "pass", 3, 2, 1, "PFP"),
             cell_json("api", "iam", "fail", 4, 0, 1, "F"),
             cell_json("web", "jwt", "skip", 5, 0, 0, "S"));
    apply_summary(cells, 5);
    cr_assert_eq(m.nsuites, 2);
    cr_assert(suite("api")->cell[RESULT_AUTH_NONE].present);
    cr_assert_not(suite("api")->cell[RESULT_AUTH_JWT].present);
    cr_assert_eq(suite("api")->cell[RESULT_AUTH_IAM].last.status, RESULT_FAIL);
    cr_assert_eq(suite("api")->cell[RESULT_AUTH_NONE].counts[RESULT_PASS], 2);
    cr_assert_str_eq(suite("api")->cell[RESULT_AUTH_NONE].recent, "PFP");
    cr_assert_eq(suite("web")->cell[RESULT_AUTH_JWT].last.id, 5);
    cr_assert(model_any_failing(&m));
}

static void
expect_bad_summary(const char *text, const char *why)
{
    struct err e = {0, ""};

    cr_assert_eq(model_apply_summary(&m, text, strlen(text), &e), ERR_INVALID,
                 "%s", text);
    cr_assert_str_eq(e.msg, why);
}

Test(model, malformed_summary_is_refused_naming_the_problem)
{
    apply_summary(cell_json("api", "none", "pass", 1, 1, 0, "P"), 1);
    expect_bad_summary("{\"last_id\":1,\"cells\":[{\"suite\":\"x\"}]}",
                       "result: expected an object");
    expect_bad_summary("{\"last_id\":1,\"cells\":[1]}",
                       "summary: cells[0]: expected an object");
    expect_bad_summary("{\"last_id\":1,\"cells\":{}}",
                       "summary: cells: expected an array");
    expect_bad_summary("{\"cells\":[]}", "summary: last_id is missing");
    expect_bad_summary("{\"last_id\":\"7\",\"cells\":[]}",
                       "summary: last_id: expected an integer");
    expect_bad_summary("{\"last_id\":1,\"cells\":[{\"a\":\"}]}",
                       "summary: cells[0]: bad JSON");
    expect_bad_summary("[]", "summary: expected an object");
    cr_assert_eq(m.nsuites, 1);
    cr_assert_eq(suite("api")->cell[0].last.id, 1);
}

Test(model, summary_scanner_skips_unknown_members_and_nested_strings)
{
    char text[4096];
    struct err e = {0, ""};

    snprintf(text, sizeof text,
             "{\"generated_at\":\"a \\\"}]\\\" b\",\"x\":[{\"y\":[1,2]},"
             "true,null],\"cells\":[%s],\"last_id\":3}",
             cell_json("br]ce{s", "jwt", "pass", 3, 1, 0, "P"));
    cr_assert_eq(model_apply_summary(&m, text, strlen(text), &e), 0, "%s",
                 e.msg);
    cr_assert(suite("br]ce{s")->cell[RESULT_AUTH_JWT].present);
}

Test(model, new_result_updates_its_cell_and_the_feed)
{
    apply_summary(cell_json("api", "none", "pass", 3, 1, 0, "P"), 3);
    cr_assert_eq(apply_results(result_json(4, "api", "fail", "none", NULL), 0),
                 1);
    const struct model_cell *c = &suite("api")->cell[RESULT_AUTH_NONE];
    cr_assert_eq(c->last.id, 4);
    cr_assert_eq(c->last.status, RESULT_FAIL);
    cr_assert_eq(c->counts[RESULT_FAIL], 1);
    cr_assert_str_eq(c->recent, "PF");
    cr_assert_eq(m.feed_n, 1);
    cr_assert_eq(model_feed_at(&m, 0)->id, 4);
}

Test(model, results_already_in_the_summary_are_not_counted_twice)
{
    char items[2048];

    apply_summary(cell_json("api", "none", "pass", 3, 3, 0, "PPP"), 3);
    snprintf(items, sizeof items, "%s,%s",
             result_json(2, "api", "pass", "none", NULL),
             result_json(3, "api", "pass", "none", NULL));
    apply_results(items, 1);
    cr_assert_eq(suite("api")->cell[0].counts[RESULT_PASS], 3);
    cr_assert_str_eq(suite("api")->cell[0].recent, "PPP");
    /* The feed still shows them. */
    cr_assert_eq(m.feed_n, 2);
}

Test(model, overlapping_feed_answers_add_each_result_once)
{
    char items[2048];

    snprintf(items, sizeof items, "%s,%s",
             result_json(1, "a", "pass", "none", NULL),
             result_json(2, "a", "fail", "none", NULL));
    cr_assert_eq(apply_results(items, 0), 2);
    snprintf(items, sizeof items, "%s,%s",
             result_json(2, "a", "fail", "none", NULL),
             result_json(3, "a", "pass", "none", NULL));
    cr_assert_eq(apply_results(items, 0), 1);
    cr_assert_eq(m.feed_n, 3);
    cr_assert_eq(suite("a")->cell[0].counts[RESULT_FAIL], 1);
    cr_assert_eq(suite("a")->cell[0].counts[RESULT_PASS], 2);
}

Test(model, feed_is_newest_first_whatever_the_arrival_order)
{
    char items[2048];

    snprintf(items, sizeof items, "%s,%s,%s",
             result_json(7, "a", "pass", "none", NULL),
             result_json(5, "b", "pass", "none", NULL),
             result_json(6, "c", "pass", "jwt", NULL));
    apply_results(items, 1);
    cr_assert_eq(model_feed_at(&m, 0)->id, 7);
    cr_assert_eq(model_feed_at(&m, 1)->id, 6);
    cr_assert_eq(model_feed_at(&m, 2)->id, 5);
}

Test(model, feed_keeps_only_the_newest_entries)
{
    char one[1024];

    for (int i = 1; i <= MODEL_FEED_MAX + 10; i++) {
        snprintf(one, sizeof one, "%s",
                 result_json(i, "s", "pass", "none", NULL));
        apply_results(one, 0);
    }
    cr_assert_eq(m.feed_n, MODEL_FEED_MAX);
    cr_assert_eq(model_feed_at(&m, 0)->id, MODEL_FEED_MAX + 10);
    cr_assert_eq(model_feed_at(&m, MODEL_FEED_MAX - 1)->id, 11);
    cr_assert_null(model_feed_at(&m, MODEL_FEED_MAX));
}

Test(model, summary_keeps_cells_the_feed_has_already_moved_past)
{
    apply_results(result_json(9, "api", "fail", "none", NULL), 0);
    apply_summary(cell_json("api", "none", "pass", 8, 8, 0, "P"), 8);
    cr_assert_eq(suite("api")->cell[0].last.id, 9);
    cr_assert_eq(suite("api")->cell[0].last.status, RESULT_FAIL);
}

static void
three_suites(void)
{
    char cells[4096];

    snprintf(cells, sizeof cells, "%s,%s,%s,%s",
             cell_json("bravo", "none", "fail", 30, 1, 5, "F"),
             cell_json("alpha", "none", "pass", 10, 4, 0, "P"),
             cell_json("charlie", "none", "pass", 40, 1, 1, "P"),
             cell_json("charlie", "iam", "error", 20, 0, 0, "E"));
    apply_summary(cells, 40);
}

static void
expect_order(const char *a, const char *b, const char *c)
{
    model_refresh_rows(&m);
    cr_assert_eq(m.nrows, 3);
    cr_assert_str_eq(model_row(&m, 0)->name, a);
    cr_assert_str_eq(model_row(&m, 1)->name, b);
    cr_assert_str_eq(model_row(&m, 2)->name, c);
}

Test(model, rows_sort_by_name_last_change_and_failures)
{
    three_suites();
    expect_order("alpha", "bravo", "charlie");
    cr_assert_eq(input_key(&m, 's', 10), INPUT_REDRAW);
    cr_assert_eq(m.sort, MODEL_SORT_CHANGED);
    expect_order("charlie", "bravo", "alpha");
    input_key(&m, 's', 10);
    cr_assert_eq(m.sort, MODEL_SORT_FAILURES);
    /* Failing cells first (bravo 1, charlie 1), then failure counts. */
    expect_order("bravo", "charlie", "alpha");
    input_key(&m, 's', 10);
    cr_assert_eq(m.sort, MODEL_SORT_NAME);
}

Test(model, failing_filter_shows_only_suites_with_fail_or_error)
{
    three_suites();
    input_key(&m, 'f', 10);
    model_refresh_rows(&m);
    cr_assert_eq(m.nrows, 2);
    cr_assert_str_eq(model_row(&m, 0)->name, "bravo");
    cr_assert_str_eq(model_row(&m, 1)->name, "charlie");
    input_key(&m, 'f', 10);
    model_refresh_rows(&m);
    cr_assert_eq(m.nrows, 3);
}

Test(model, slash_filter_matches_suite_names_and_esc_clears)
{
    three_suites();
    cr_assert_eq(input_key(&m, '/', 10), INPUT_REDRAW);
    cr_assert(m.editing_filter);
    input_key(&m, 'A', 10);
    input_key(&m, 'r', 10);
    model_refresh_rows(&m);
    cr_assert_str_eq(m.filter, "Ar");
    cr_assert_eq(m.nrows, 1); /* case-insensitive: charlie */
    cr_assert_str_eq(model_row(&m, 0)->name, "charlie");
    input_key(&m, KEY_BACKSPACE, 10);
    cr_assert_str_eq(m.filter, "A");
    model_refresh_rows(&m);
    cr_assert_eq(m.nrows, 3);
    input_key(&m, '\r', 10);
    cr_assert_not(m.editing_filter);
    /* 'q' typed outside the prompt quits, inside it would filter. */
    cr_assert_eq(input_key(&m, 27, 10), INPUT_REDRAW);
    cr_assert_str_eq(m.filter, "");
}

Test(model, selection_follows_its_suite_when_sorting_changes)
{
    three_suites();
    model_refresh_rows(&m);
    input_key(&m, 'j', 10); /* bravo */
    cr_assert_str_eq(model_row(&m, m.sel_row)->name, "bravo");
    input_key(&m, 's', 10);
    model_refresh_rows(&m);
    cr_assert_str_eq(model_row(&m, m.sel_row)->name, "bravo");
}

Test(model, movement_keys_clamp_at_both_ends)
{
    three_suites();
    input_key(&m, 'k', 10);
    cr_assert_eq(m.sel_row, 0);
    input_key(&m, 'G', 10);
    cr_assert_eq(m.sel_row, 2);
    input_key(&m, KEY_DOWN, 10);
    cr_assert_eq(m.sel_row, 2);
    input_key(&m, 'g', 10);
    cr_assert_eq(m.sel_row, 0);
    input_key(&m, KEY_NPAGE, 10);
    cr_assert_eq(m.sel_row, 2);
    input_key(&m, 'l', 10);
    input_key(&m, 'l', 10);
    input_key(&m, 'l', 10);
    cr_assert_eq(m.sel_col, RESULT_AUTH_IAM);
}

Test(model, enter_opens_the_selected_cell_and_esc_goes_back)
{
    three_suites();
    input_key(&m, 'G', 10); /* charlie */
    input_key(&m, 'l', 10);
    cr_assert_eq(input_key(&m, '\r', 10), 0, "jwt cell is empty");
    input_key(&m, 'l', 10);
    cr_assert_eq(input_key(&m, '\r', 10), INPUT_REDRAW | INPUT_DETAIL);
    cr_assert_eq(m.view, MODEL_VIEW_DETAIL);
    cr_assert_eq(m.detail.id, 20);
    cr_assert_null(m.detail.payload, "the summary has no payload");
    input_key(&m, 27, 10);
    cr_assert_eq(m.view, MODEL_VIEW_MATRIX);
}

Test(model, enter_on_a_feed_line_has_the_full_result)
{
    apply_results(result_json(3, "a", "pass", "none", NULL), 0);
    input_key(&m, '2', 10);
    cr_assert_eq(m.view, MODEL_VIEW_FEED);
    cr_assert_eq(input_key(&m, '\n', 10), INPUT_REDRAW);
    cr_assert_eq(m.detail.id, 3);
    cr_assert_not_null(m.detail.payload);
    input_key(&m, 27, 10);
    cr_assert_eq(m.view, MODEL_VIEW_FEED);
}

Test(model, view_keys_tab_help_pause_reconnect_and_quit)
{
    cr_assert_eq(input_key(&m, '\t', 10), INPUT_REDRAW);
    cr_assert_eq(m.view, MODEL_VIEW_FEED);
    input_key(&m, '\t', 10);
    cr_assert_eq(m.view, MODEL_VIEW_DETAIL);
    input_key(&m, '\t', 10);
    cr_assert_eq(m.view, MODEL_VIEW_MATRIX);
    input_key(&m, '?', 10);
    cr_assert_eq(m.view, MODEL_VIEW_HELP);
    input_key(&m, '?', 10);
    cr_assert_eq(m.view, MODEL_VIEW_MATRIX);
    cr_assert_eq(input_key(&m, 'p', 10), INPUT_REDRAW | INPUT_PAUSE);
    cr_assert(m.paused);
    cr_assert_eq(input_key(&m, 'r', 10), INPUT_REDRAW | INPUT_RECONNECT);
    cr_assert_eq(input_key(&m, 'q', 10), INPUT_QUIT);
    cr_assert_eq(input_key(&m, 'z', 10), 0);
}

Test(model, identity_line_names_who_posted_on_each_path)
{
    struct result r;
    struct err e = {0, ""};
    char line[256];
    json_t *j;

    j = parse(result_json(1, "a", "pass", "jwt",
                          ",\"subject\":\"repo:o/r:ref:main\","
                          "\"repository\":\"o/r\",\"owner\":\"o\""));
    cr_assert_eq(result_from_json(&r, j, &e), 0, "%s", e.msg);
    model_identity_line(&r, line, sizeof line);
    cr_assert_str_eq(line, "o/r (o)");
    result_free(&r);
    json_decref(j);
    j = parse(result_json(1, "a", "pass", "iam",
                          ",\"principal_arn\":\"arn:aws:iam::1:role/ci\""));
    cr_assert_eq(result_from_json(&r, j, &e), 0);
    model_identity_line(&r, line, sizeof line);
    cr_assert_str_eq(line, "arn:aws:iam::1:role/ci");
    result_free(&r);
    json_decref(j);
}

Test(model, stale_state_keeps_data_and_records_the_reason)
{
    three_suites();
    model_set_live(&m, T0);
    model_set_stale(&m, "connection refused", T0 + 5000, T0 + 6000);
    cr_assert_eq(m.conn, MODEL_STALE);
    cr_assert_str_eq(m.reason, "connection refused");
    cr_assert_eq(m.nsuites, 3);
    model_set_live(&m, T0 + 7000);
    cr_assert_eq(m.conn, MODEL_LIVE);
    cr_assert_str_eq(m.reason, "");
}

Test(model, ages_are_short)
{
    char a[16];

    model_age(59000, a, sizeof a);
    cr_assert_str_eq(a, "59s");
    model_age(61000, a, sizeof a);
    cr_assert_str_eq(a, "1m");
    model_age(7200000, a, sizeof a);
    cr_assert_str_eq(a, "2h");
    model_age(3 * 86400000LL, a, sizeof a);
    cr_assert_str_eq(a, "3d");
}
