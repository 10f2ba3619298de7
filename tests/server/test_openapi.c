/*
 * docs/openapi.yaml against the route table: every route the server
 * registers is described, and everything described is registered.  The
 * YAML is read as text, which is enough for the two indentation levels
 * that matter: "  /path:" under "paths:" and "    method:" under it.  A
 * prefix route such as "/lab/results/" is described as
 * "/lab/results/{param}".
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

#define OPS_MAX 64

struct op {
    char method[16];
    char path[128];
    int seen;
};

static int
is_http_method(const char *m)
{
    static const char *const all[] = {"get",   "put",  "post",    "delete",
                                      "patch", "head", "options", "trace"};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(m, all[i]) == 0)
            return 1;
    return 0;
}

/* Read the paths section into ops; returns how many. */
static int
read_spec(struct op *ops)
{
    char line[512], path[128] = "", word[64];
    int in_paths = 0, n = 0;
    FILE *f = fopen(LABGATE_SOURCE_DIR "/docs/openapi.yaml", "r");

    cr_assert_not_null(f, "docs/openapi.yaml is missing");
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != ' ' && line[0] != '\0' && line[0] != '#') {
            in_paths = strcmp(line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)strlen(line) - 3,
                     line + 2);
            continue;
        }
        if (strncmp(line, "    ", 4) != 0 || line[4] == ' ' ||
            sscanf(line + 4, "%63[a-z]:", word) != 1 || !is_http_method(word))
            continue;
        cr_assert(path[0] != '\0', "method %s outside a path", word);
        cr_assert_lt(n, OPS_MAX);
        for (char *p = word; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        snprintf(ops[n].method, sizeof ops[n].method, "%s", word);
        snprintf(ops[n].path, sizeof ops[n].path, "%s", path);
        ops[n++].seen = 0;
    }
    fclose(f);
    return n;
}

static int
route_matches_op(const struct route *r, const struct op *o)
{
    size_t n = strlen(r->path);

    if (strcmp(r->method, o->method) != 0)
        return 0;
    if (!(r->flags & ROUTE_PREFIX))
        return strcmp(r->path, o->path) == 0;
    return strncmp(o->path, r->path, n) == 0 && o->path[n] == '{' &&
           o->path[strlen(o->path) - 1] == '}' &&
           strchr(o->path + n, '/') == NULL;
}

Test(openapi, spec_and_route_table_agree)
{
    struct op ops[OPS_MAX];
    int n = read_spec(ops), routes = 0;

    cr_assert_gt(n, 0, "no operations found under paths:");
    for (const struct route *r = route_table; r->method; r++, routes++) {
        int found = 0;
        for (int i = 0; i < n; i++) {
            if (route_matches_op(r, &ops[i])) {
                ops[i].seen++;
                found = 1;
            }
        }
        cr_expect(found, "route %s %s%s is not in docs/openapi.yaml", r->method,
                  r->path, (r->flags & ROUTE_PREFIX) ? "{...}" : "");
    }
    for (int i = 0; i < n; i++)
        cr_expect_eq(ops[i].seen, 1,
                     "docs/openapi.yaml describes %s %s, which the server "
                     "does not register",
                     ops[i].method, ops[i].path);
    cr_assert_eq(n, routes, "%d operations for %d routes", n, routes);
}
