/*
 * Result body validation: what is accepted, what is refused, and that the
 * refusal names the field.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "result.h"

static const struct result_limits limits = {8, 100};

static int
parse(const char *body, struct result *r, struct err *e)
{
    memset(r, 0, sizeof *r);
    err_clear(e);
    return result_parse_body(r, body, strlen(body), &limits, e);
}

static void
expect_refused(const char *body, const char *msg)
{
    struct result r;
    struct err e;

    cr_assert_eq(parse(body, &r, &e), ERR_INVALID, "accepted %s", body);
    cr_assert_str_eq(e.msg, msg, "for %s", body);
    cr_assert_null(r.suite);
    cr_assert_null(r.payload);
}

Test(result, accepts_the_plain_example)
{
    struct result r;
    struct err e;

    cr_assert_eq(parse("{\"status\":\"pass\",\"suite\":\"ci\"}", &r, &e), 0,
                 "%s", e.msg);
    cr_assert_str_eq(r.suite, "ci");
    cr_assert_eq(r.status, RESULT_PASS);
    cr_assert_str_eq(r.payload, "{\"status\":\"pass\",\"suite\":\"ci\"}");
    result_free(&r);
}

Test(result, keeps_optional_and_unknown_fields_in_payload)
{
    struct result r;
    struct err e;
    const char *body =
        "{\"suite\":\"unit\",\"status\":\"fail\",\"run_id\":\"42\","
        "\"sha\":\"abc\",\"ref\":\"refs/heads/main\",\"url\":\"http://x\","
        "\"message\":\"m\",\"duration_ms\":12,"
        "\"counts\":{\"passed\":1,\"failed\":2,\"skipped\":0},"
        "\"extra\":{\"k\":[1,2]}}";

    cr_assert_eq(parse(body, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.status, RESULT_FAIL);
    cr_assert_str_eq(r.payload, body);
    result_free(&r);
}

Test(result, refuses_invalid_json)
{
    struct result r;
    struct err e;

    cr_assert_eq(parse("{\"suite\":", &r, &e), ERR_INVALID);
    cr_assert(strncmp(e.msg, "invalid JSON", 12) == 0, "%s", e.msg);
}

Test(result, refuses_nul_characters_as_invalid_json)
{
    struct result r;
    struct err e;

    cr_assert_eq(parse("{\"status\":\"pass\",\"suite\":\"a\\u0000b\"}", &r,
                       &e),
                 ERR_INVALID);
    cr_assert(strstr(e.msg, "\\u0000 is not allowed") != NULL, "%s", e.msg);
}

Test(result, refuses_non_object_body)
{
    expect_refused("[1,2]", "body: must be a JSON object");
}

Test(result, refuses_missing_or_bad_suite)
{
    expect_refused("{\"status\":\"pass\"}",
                   "suite: required string is missing");
    expect_refused("{\"status\":\"pass\",\"suite\":5}",
                   "suite: required string is missing");
    expect_refused("{\"status\":\"pass\",\"suite\":\"\"}",
                   "suite: must be 1 to 128 characters long");
    expect_refused("{\"status\":\"pass\",\"suite\":\"a\\u001bb\"}",
                   "suite: control characters are not allowed");
    expect_refused("{\"status\":\"pass\",\"suite\":\"a\\u0085b\"}",
                   "suite: control characters are not allowed");
}

Test(result, suite_length_counts_characters_not_bytes)
{
    char body[1024], name[600];
    struct result r;
    struct err e;

    name[0] = '\0';
    for (int i = 0; i < 128; i++)
        strcat(name, "\xc3\xa9"); /* é: two bytes, one character */
    snprintf(body, sizeof body, "{\"status\":\"pass\",\"suite\":\"%s\"}",
             name);
    cr_assert_eq(parse(body, &r, &e), 0, "%s", e.msg);
    result_free(&r);
    strcat(name, "x");
    snprintf(body, sizeof body, "{\"status\":\"pass\",\"suite\":\"%s\"}",
             name);
    cr_assert_eq(parse(body, &r, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "suite: must be 1 to 128 characters long");
}

Test(result, refuses_unknown_status)
{
    expect_refused("{\"suite\":\"a\",\"status\":\"passed\"}",
                   "status: must be one of pass, fail, error, skip");
    expect_refused("{\"suite\":\"a\"}",
                   "status: must be one of pass, fail, error, skip");
}

Test(result, refuses_mistyped_optional_fields)
{
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"run_id\":7}",
                   "run_id: must be a string");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"message\":null}",
                   "message: must be a string");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"duration_ms\":-1}",
                   "duration_ms: must be a non-negative integer");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"duration_ms\":1.5}",
                   "duration_ms: must be a non-negative integer");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"counts\":[]}",
                   "counts: must be an object");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\","
                   "\"counts\":{\"passed\":-3}}",
                   "counts.passed: must be a non-negative integer");
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\","
                   "\"counts\":{\"total\":3}}",
                   "counts.total: unknown member (expected passed, failed "
                   "or skipped)");
}

Test(result, refuses_deep_or_wide_bodies)
{
    expect_refused("{\"suite\":\"a\",\"status\":\"pass\",\"x\":"
                   "[[[[[[[[[[1]]]]]]]]]]}",
                   "body: nested deeper than 8 or more than 100 members");
}

Test(result, refuses_duplicate_members)
{
    struct result r;
    struct err e;

    cr_assert_eq(parse("{\"suite\":\"a\",\"status\":\"pass\","
                       "\"status\":\"fail\"}",
                       &r, &e),
                 ERR_INVALID);
    cr_assert(strstr(e.msg, "duplicate") != NULL, "%s", e.msg);
}

Test(result, json_form_round_trips)
{
    struct result r, back;
    struct err e;
    json_t *j;

    cr_assert_eq(parse("{\"status\":\"skip\",\"suite\":\"s\"}", &r, &e), 0);
    r.id = 9;
    r.received_ms = 1764781200123LL;
    r.route = strdup("/lab/results-ci");
    r.auth = RESULT_AUTH_IAM;
    r.ident.principal_arn = strdup("arn:aws:iam::1:role/r");
    r.ident.claims = strdup("{\"sub\":\"x\"}");
    cr_assert_eq(result_set_principal(&r), 0);
    j = result_to_json(&r);
    cr_assert_eq(result_from_json(&back, j, &e), 0, "%s", e.msg);
    cr_assert_eq(back.id, 9);
    cr_assert_eq(back.received_ms, r.received_ms);
    cr_assert_eq(back.auth, RESULT_AUTH_IAM);
    cr_assert_eq(back.status, RESULT_SKIP);
    cr_assert_str_eq(back.principal, "arn:aws:iam::1:role/r");
    cr_assert_str_eq(back.ident.principal_arn, "arn:aws:iam::1:role/r");
    cr_assert_str_eq(back.ident.claims, "{\"sub\":\"x\"}");
    cr_assert_str_eq(back.payload, r.payload);
    json_decref(j);
    result_free(&r);
    result_free(&back);
}

Test(result, chain_value_round_trips_and_is_checked)
{
    struct result r, back;
    struct err e;
    json_t *j;

    cr_assert_eq(parse("{\"status\":\"pass\",\"suite\":\"s\"}", &r, &e), 0);
    r.id = 1;
    r.route = strdup("/lab/results");
    j = result_to_json(&r);
    cr_assert(json_is_null(json_object_get(j, "chain")));
    json_decref(j);
    memset(r.chain, 'a', 64);
    r.chain[64] = '\0';
    j = result_to_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "chain")),
                     r.chain);
    cr_assert_eq(result_from_json(&back, j, &e), 0, "%s", e.msg);
    cr_assert_str_eq(back.chain, r.chain);
    result_free(&back);
    json_object_set_new(j, "chain", json_string("xyz"));
    cr_assert_eq(result_from_json(&back, j, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "chain: expected 64 hex digits");
    json_decref(j);
    result_free(&r);
}

/* result_write_json must produce exactly jansson's compact dump. */
static void
expect_same_text(const struct result *r)
{
    json_t *j = result_to_json(r);
    char *want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct buf got = BUF_INIT;

    cr_assert_eq(result_write_json(r, 0, &got), 0);
    cr_assert_str_eq(got.data, want);
    free(want);
    json_decref(j);
    buf_free(&got);
}

Test(result, written_json_matches_the_jansson_form)
{
    static const char *const bodies[] = {
        "{\"status\":\"pass\",\"suite\":\"ci\"}",
        "{\"suite\":\"q\\\"uo\\\\te/\",\"x\":\"\\n\\t\\u0001\\u001f\\u007f\","
        "\"status\":\"fail\",\"n\":1.5,\"a\":[1,{\"b\":null}]}",
        "{\"status\":\"skip\",\"suite\":\"caf\\u00e9 \\u2028 \\ud83d\\ude00\"}",
    };
    struct result r;
    struct err e;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        cr_assert_eq(parse(bodies[i], &r, &e), 0, "%s: %s", bodies[i],
                     e.msg);
        r.id = 42 + (int64_t)i;
        r.received_ms = 1764781200123LL;
        r.route = strdup("/lab/results-ci");
        r.auth = i == 0 ? RESULT_AUTH_NONE : RESULT_AUTH_IAM;
        r.ident.source_addr = strdup("127.0.0.1");
        if (i > 0) {
            r.ident.principal_arn = strdup("arn:aws:iam::1:role/r\"\\");
            r.ident.subject = strdup("repo:o/r:ref:refs/heads/\x01main");
            r.ident.claims = strdup("{\"sub\":\"x\",\"n\":[1,2.25]}");
        }
        cr_assert_eq(result_set_principal(&r), 0);
        expect_same_text(&r);
        memset(r.chain, 'c', 64);
        r.chain[64] = '\0';
        expect_same_text(&r);
        result_free(&r);
    }
}
