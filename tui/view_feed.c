/*
 * The feed: results as they arrive, newest on top, one line each with
 * time (UTC), suite, status, auth path, who posted it and the posted
 * "message", if any.
 */
#include <stdio.h>
#include <time.h>

#include "view.h"

/* Suite column width: wider on wide screens. */
#define VIEW_FEED_SUITE_W(w) ((w) >= 120 ? 32 : 20)

/* The "message" member of a result's payload, copied into out. */
static void
view_feed_message(const struct result *r, char *out, size_t n)
{
    json_t *p = r->payload ? json_loads(r->payload, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(p, "message"));

    snprintf(out, n, "%s", msg ? msg : "");
    json_decref(p);
}

static void
view_feed_line(struct canvas *c, int y, const struct result *r, int sel)
{
    uint8_t rev = sel ? CANVAS_REVERSE : 0;
    char when[16], who[512], msg[512];
    time_t t = (time_t)(r->received_ms / 1000);
    struct tm tm;
    int sw = VIEW_FEED_SUITE_W(c->w), x;

    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    model_identity_line(r, who, sizeof who);
    view_feed_message(r, msg, sizeof msg);
    canvas_fill(c, y, 0, c->w, rev);
    canvas_text(c, y, 0, 8, CANVAS_DIM | rev, when);
    canvas_text(c, y, 9, sw, rev | (sel ? CANVAS_BOLD : 0), r->suite);
    canvas_text(c, y, 10 + sw, 5, view_status_role(r->status) | rev,
                result_status_name(r->status));
    canvas_text(c, y, 17 + sw, 4, rev, view_auth_label(r->auth));
    x = 22 + sw;
    x += canvas_text(c, y, x, c->w - x, rev, who);
    if (msg[0] != '\0' && x + 3 < c->w)
        canvas_text(c, y, x + 2, c->w - x - 2, CANVAS_DIM | rev, msg);
}

void
view_feed_body(struct model *m, struct canvas *c, int top, int bottom)
{
    int lines = bottom - top - 1, sw = VIEW_FEED_SUITE_W(c->w);

    canvas_fill(c, top, 0, c->w, CANVAS_BOLD);
    canvas_text(c, top, 0, 8, CANVAS_BOLD, "UTC");
    canvas_text(c, top, 9, sw, CANVAS_BOLD, "SUITE");
    canvas_text(c, top, 10 + sw, 6, CANVAS_BOLD, "STATUS");
    canvas_text(c, top, 17 + sw, 4, CANVAS_BOLD, "AUTH");
    canvas_text(c, top, 22 + sw, c->w - 22 - sw, CANVAS_BOLD,
                "WHO (repository, role ARN or address) and message");
    if (m->feed_n == 0) {
        canvas_text(c, top + 2, 2, c->w - 4, CANVAS_DIM,
                    "No results yet; new ones appear here as they are "
                    "posted.");
        return;
    }
    view_scroll_into(&m->feed_top, m->feed_sel, lines);
    for (int i = 0; i < lines && m->feed_top + (size_t)i < m->feed_n; i++) {
        size_t k = m->feed_top + (size_t)i;
        view_feed_line(c, top + 1 + i, model_feed_at(m, k), k == m->feed_sel);
    }
}
