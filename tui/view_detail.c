/*
 * The detail view (the audit record: the full stored result and every
 * identity field behind it) and the help view (the key reference).  Both
 * are scrolling lists of lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "timefmt.h"
#include "view.h"

#define VIEW_LABEL_W 16

struct view_lines {
    int y, top, bottom, skip; /* skip: lines scrolled away */
    int drawn, total;
};

static void
view_line(struct canvas *c, struct view_lines *l, const char *label,
          const char *value, uint8_t attr)
{
    int row = l->total++ - l->skip;

    if (row < 0 || l->top + row >= l->bottom)
        return;
    if (label != NULL) {
        canvas_text(c, l->top + row, 1, VIEW_LABEL_W, CANVAS_DIM, label);
        canvas_text(c, l->top + row, VIEW_LABEL_W + 2, c->w - VIEW_LABEL_W - 2,
                    attr, value ? value : "-");
    } else {
        canvas_text(c, l->top + row, 3, c->w - 3, attr, value);
    }
    l->drawn++;
}

/* Pretty-print JSON text and show it line by line under a label. */
static void
view_json_block(struct canvas *c, struct view_lines *l, const char *label,
                const char *text)
{
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                         JSON_ENCODE_ANY)
                     : NULL;
    char *line, *save = NULL;

    view_line(c, l, label, pretty ? "" : (text ? text : "-"), CANVAS_NORMAL);
    for (line = pretty ? strtok_r(pretty, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        view_line(c, l, NULL, line, CANVAS_NORMAL);
    free(pretty);
    json_decref(j);
}

/* The posted "message", decoded, so control characters show escaped. */
static void
view_message(struct canvas *c, struct view_lines *l, const char *payload)
{
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(p, "message"));

    if (msg != NULL)
        view_line(c, l, "message", msg, CANVAS_NORMAL);
    json_decref(p);
}

static void
view_detail_lines(const struct model *m, struct canvas *c, struct view_lines *l)
{
    const struct result *r = &m->detail;
    char when[TIMEFMT_ISO_MAX], id[32];

    timefmt_iso8601(r->received_ms, when, sizeof when);
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    view_line(c, l, "id", id, CANVAS_BOLD);
    view_line(c, l, "received_at", when, CANVAS_NORMAL);
    view_line(c, l, "suite", r->suite, CANVAS_BOLD);
    view_line(c, l, "status", result_status_name(r->status),
              view_status_role(r->status));
    view_line(c, l, "route", r->route, CANVAS_NORMAL);
    view_line(c, l, "auth", result_auth_name(r->auth), CANVAS_NORMAL);
    view_line(c, l, "principal", r->principal, CANVAS_BOLD);
    view_message(c, l, r->payload);
    view_line(c, l, NULL, "", CANVAS_NORMAL);
    view_line(c, l, "identity", "", CANVAS_BOLD);
    for (size_t i = 0; i < result_ident_field_count; i++) {
        const struct result_ident_field *f = &result_ident_fields[i];
        const char *v =
            *result_ident_slot((struct result_identity *)&r->ident, f);
        if (v != NULL && strcmp(f->name, "claims") != 0)
            view_line(c, l, f->name, v, CANVAS_NORMAL);
    }
    if (r->ident.claims != NULL)
        view_json_block(c, l, "claims", r->ident.claims);
    view_line(c, l, NULL, "", CANVAS_NORMAL);
    if (r->payload != NULL)
        view_json_block(c, l, "payload", r->payload);
    else
        view_line(c, l, "payload", "(not loaded)", CANVAS_DIM);
}

void
view_detail_body(struct model *m, struct canvas *c, int top, int bottom)
{
    struct view_lines l;
    int room = bottom - top - 1;

    canvas_fill(c, top, 0, c->w, CANVAS_BOLD);
    if (!m->detail_set) {
        canvas_text(c, top, 0, c->w, CANVAS_BOLD, "Detail");
        canvas_text(c, top + 2, 2, c->w - 4, CANVAS_DIM,
                    "Nothing selected: press Enter on a matrix cell or a "
                    "feed line.");
        return;
    }
    canvas_printf(c, top, 0, c->w, CANVAS_BOLD,
                  "Result %lld: the stored row and who posted it  %s",
                  (long long)m->detail.id, m->detail_note);
    /* Count the lines once to clamp the scroll position. */
    memset(&l, 0, sizeof l);
    l.top = top + 1;
    l.bottom = top + 1;
    view_detail_lines(m, c, &l);
    if (m->detail_scroll > l.total - room)
        m->detail_scroll = l.total - room > 0 ? l.total - room : 0;
    memset(&l, 0, sizeof l);
    l.top = top + 1;
    l.bottom = bottom;
    l.skip = m->detail_scroll;
    view_detail_lines(m, c, &l);
}

void
view_help_body(struct model *m, struct canvas *c, int top, int bottom)
{
    struct view_lines l;

    memset(&l, 0, sizeof l);
    l.top = top + 1;
    l.bottom = bottom;
    l.skip = m->detail_scroll;
    canvas_fill(c, top, 0, c->w, CANVAS_BOLD);
    canvas_text(c, top, 0, c->w, CANVAS_BOLD,
                "Keys (Esc or ? goes back; mouse click selects)");
    for (const struct input_help *h = input_help; h->keys != NULL; h++)
        view_line(c, &l, h->keys, h->what, CANVAS_NORMAL);
    if (m->detail_scroll > l.total - 1)
        m->detail_scroll = l.total - 1;
}
