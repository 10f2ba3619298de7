/*
 * labgate-tui: the terminal dashboard.  main.c parses the command line
 * and runs either --once (read the summary, print the matrix, exit 0 or
 * 1) or the interactive loop: the follower thread (source.c) fetches,
 * the loop applies its messages to the model, turns keys into actions
 * (input.c), draws the views into a canvas (view_*.c) and copies it to
 * the terminal (term.c).  The loop sleeps in poll() on the keyboard and
 * the follower's wake-up pipe, so new results show without delay.
 */
#include <curl/curl.h>
#include <curses.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "input.h"
#include "model.h"
#include "source.h"
#include "term.h"
#include "timefmt.h"
#include "view.h"

#define MAIN_DEFAULT_SERVER "http://127.0.0.1:8080"
#define MAIN_EXIT_USAGE 2

struct main_opts {
    const char *server;
    const char *token;
    const char *title;
    char *token_copy; /* --token's value (argv is wiped); freed by main */
    const char *prefix; /* --suite-prefix, or NULL */
    char summary_path[SOURCE_PATH_MAX];
    int once;
    int interval_s;
};

static void
main_usage(FILE *f)
{
    fprintf(f,
            "usage: labgate-tui [--server URL] [--token T] [--once] "
            "[--interval S]\n"
            "                   [--suite-prefix P] [--title TEXT]\n"
            "       labgate-tui --help | --version\n\n"
            "Live pass/fail per suite and auth path from a labgate-server.\n\n"
            "  --server URL   server to follow (default %s)\n"
            "  --token T      read credential sent as Authorization: Bearer;\n"
            "                 LABGATE_TOKEN is used when this is not given\n"
            "  --once         print the matrix as plain text and exit: 0 "
            "when no\n"
            "                 latest status is fail or error, 1 when one "
            "is, 2 when\n"
            "                 the server cannot be read\n"
            "  --interval S   re-read the whole summary every S seconds "
            "(default 10)\n"
            "  --suite-prefix P\n"
            "                 only suites whose name starts with P: the "
            "server sends\n"
            "                 only their summary, and --once judges only "
            "them\n"
            "  --title TEXT   label shown in the header (the demo uses "
            "it)\n\n"
            "Keys:\n",
            MAIN_DEFAULT_SERVER);
    for (const struct input_help *h = input_help; h->keys != NULL; h++)
        fprintf(f, "  %-16s %s\n", h->keys, h->what);
    fprintf(f, "\nNO_COLOR turns colours off; a non-UTF-8 locale draws "
               "ASCII only.\n");
}

static int
main_args(int argc, char **argv, struct main_opts *o)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},
        {"once", no_argument, NULL, 'o'},
        {"interval", required_argument, NULL, 'i'},
        {"title", required_argument, NULL, 'T'},
        {"suite-prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;

    memset(o, 0, sizeof *o);
    o->server = MAIN_DEFAULT_SERVER;
    source_summary_path(NULL, o->summary_path);
    o->interval_s = 10;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->server = optarg;
            break;
        case 't':
            /* Keep a copy and wipe argv, so ps does not show the token. */
            free(o->token_copy);
            o->token_copy = strdup(optarg);
            memset(optarg, 0, strlen(optarg));
            o->token = o->token_copy;
            break;
        case 'o':
            o->once = 1;
            break;
        case 'i':
            o->interval_s = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->interval_s < 1 || o->interval_s > 3600) {
                fprintf(stderr, "labgate-tui: --interval: expected seconds "
                                "from 1 to 3600\n");
                return MAIN_EXIT_USAGE;
            }
            break;
        case 'T':
            o->title = optarg;
            break;
        case 'p':
            o->prefix = optarg;
            if (optarg[0] == '\0' ||
                source_summary_path(optarg, o->summary_path) != 0) {
                fprintf(stderr, "labgate-tui: --suite-prefix: expected 1 "
                                "to %d bytes\n",
                        SOURCE_PREFIX_MAX);
                return MAIN_EXIT_USAGE;
            }
            break;
        case 'h':
            main_usage(stdout);
            return -1;
        case 'V':
            printf("labgate-tui %s\n", LABGATE_VERSION);
            return -1;
        default:
            main_usage(stderr);
            return MAIN_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "labgate-tui: unexpected argument '%s'\n",
                argv[optind]);
        return MAIN_EXIT_USAGE;
    }
    if (strncmp(o->server, "http://", 7) != 0 &&
        strncmp(o->server, "https://", 8) != 0) {
        fprintf(stderr, "labgate-tui: --server: expected an http:// or "
                        "https:// URL\n");
        return MAIN_EXIT_USAGE;
    }
    if (o->token == NULL)
        o->token = getenv("LABGATE_TOKEN");
    return 0;
}

static int
main_color_wanted(void)
{
    const char *nc = getenv("NO_COLOR");

    return nc == NULL || nc[0] == '\0';
}

/* Print the matrix drawn for --once, coloured on a colour terminal. */
static void
main_once_print(struct model *m)
{
    struct canvas c = {0, 0, !term_locale_utf8(), NULL};
    int tty = isatty(STDOUT_FILENO), w = 100;
    struct winsize ws;
    char line[16384];

    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 60)
        w = ws.ws_col;
    if (canvas_resize(&c, w, view_matrix_plain_rows(m)) != 0)
        return;
    view_matrix_plain(m, &c, timefmt_now_ms());
    for (int y = 0; y < c.h; y++) {
        if (tty && main_color_wanted())
            canvas_row_ansi(&c, y, line, sizeof line);
        else
            canvas_row_text(&c, y, line, sizeof line);
        printf("%s\n", line);
    }
    canvas_free(&c);
}

/* --once: the matrix as text; exit 0, 1 (fail or error) or 2. */
static int
main_once(const struct main_opts *o)
{
    struct source *src = source_http_new(o->server, o->token);
    struct buf body = BUF_INIT;
    struct err e = {0, ""};
    struct model m;
    int rc;

    if (src == NULL ||
        src->ops->get(src, o->summary_path, 10, &body, &e) != 0) {
        fprintf(stderr, "labgate-tui: cannot read %s%s: %s\n", o->server,
                o->summary_path, src ? e.msg : "out of memory");
        source_free(src);
        buf_free(&body);
        return 2;
    }
    source_free(src);
    model_init(&m, o->server, o->title);
    model_set_prefix(&m, o->prefix);
    rc = model_apply_summary(&m, body.data ? body.data : "", body.len, &e);
    buf_free(&body);
    if (rc != 0) {
        fprintf(stderr, "labgate-tui: bad summary: %s\n", e.msg);
        model_free(&m);
        return 2;
    }
    /* A gate on a prefix that matches nothing (a typo, a renamed
     * team) must not pass for want of anything to judge. */
    if (o->prefix != NULL && m.nsuites == 0) {
        fprintf(stderr, "labgate-tui: no suite starts with \"%s\"\n",
                o->prefix);
        model_free(&m);
        return 2;
    }
    main_once_print(&m);
    rc = model_any_failing(&m) ? 1 : 0;
    model_free(&m);
    return rc;
}

struct main_ui {
    struct model m;
    struct canvas c;
    struct source_follow follow;
    struct source *detail_src; /* the UI thread's own connection */
    int dirty;
};

/* Apply the follower's messages to the model. */
static void
main_apply(struct main_ui *ui)
{
    struct source_msg *msg = source_follow_take(&ui->follow), *next;
    struct err e = {0, ""};
    char why[MODEL_REASON_MAX];

    for (; msg != NULL; msg = next) {
        int rc = 0;
        next = msg->next;
        if (msg->kind == SOURCE_MSG_SUMMARY)
            rc = model_apply_summary(&ui->m, msg->text, msg->len, &e);
        else if (msg->kind == SOURCE_MSG_FEED ||
                 msg->kind == SOURCE_MSG_RESULTS)
            rc = model_apply_results(&ui->m, msg->doc,
                                     msg->kind == SOURCE_MSG_FEED, &e);
        if (msg->kind == SOURCE_MSG_FAILED) {
            model_set_stale(&ui->m, msg->reason, msg->at_ms, msg->retry_ms);
        } else if (rc < 0) {
            snprintf(why, sizeof why, "bad data from the server: %.120s",
                     e.msg);
            model_set_stale(&ui->m, why, msg->at_ms, 0);
        } else {
            model_set_live(&ui->m, msg->at_ms);
        }
        source_msg_free(msg);
        ui->dirty = 1;
    }
}

/* Load the full stored result behind the detail view. */
static void
main_fetch_detail(struct main_ui *ui)
{
    char path[64];
    struct err e = {0, ""};
    struct result r;
    json_t *doc = NULL;

    snprintf(path, sizeof path, "/lab/results/%lld",
             (long long)ui->m.detail.id);
    if (source_get_json(ui->detail_src, path, 3, &doc, &e) != 0 ||
        result_from_json(&r, doc, &e) != 0) {
        snprintf(ui->m.detail_note, sizeof ui->m.detail_note,
                 "(full result not loaded: %.120s)", e.msg);
    } else {
        model_set_detail(&ui->m, &r);
    }
    json_decref(doc);
}

static void
main_mouse(struct main_ui *ui)
{
    MEVENT ev;

    if (getmouse(&ev) == OK &&
        (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) &&
        view_click(&ui->m, &ui->c, ev.y, ev.x))
        ui->dirty = 1;
}

/* Handle pending keys; returns 1 to quit. */
static int
main_keys(struct main_ui *ui)
{
    int ch, w, h;
    unsigned fl;

    while ((ch = getch()) != ERR) {
        if (ch == KEY_RESIZE) {
            term_size(&w, &h);
            canvas_resize(&ui->c, w, h);
            ui->dirty = 1;
            continue;
        }
        if (ch == KEY_MOUSE) {
            main_mouse(ui);
            continue;
        }
        fl = input_key(&ui->m, ch, ui->c.h - 5);
        if (fl & INPUT_QUIT)
            return 1;
        if (fl & INPUT_PAUSE)
            source_follow_pause(&ui->follow, ui->m.paused);
        if (fl & INPUT_RECONNECT)
            source_follow_reconnect(&ui->follow);
        if (fl & INPUT_DETAIL) {
            view_draw(&ui->m, &ui->c, timefmt_now_ms());
            term_draw(&ui->c);
            main_fetch_detail(ui);
        }
        if (fl)
            ui->dirty = 1;
    }
    return 0;
}

static void
main_loop(struct main_ui *ui)
{
    int64_t last_draw = 0, now;
    struct pollfd p[2];

    for (;;) {
        if (term_quit_signal() || main_keys(ui))
            break;
        if (!ui->m.paused)
            main_apply(ui);
        now = timefmt_now_ms();
        /* Ages and the stale timer tick once a second. */
        if (ui->dirty || now - last_draw >= 1000) {
            view_draw(&ui->m, &ui->c, now);
            term_draw(&ui->c);
            ui->dirty = 0;
            last_draw = now;
        }
        p[0].fd = STDIN_FILENO;
        p[0].events = POLLIN;
        p[1].fd = ui->follow.wake_fd[0];
        p[1].events = ui->m.paused ? 0 : POLLIN;
        poll(p, 2, (int)(1000 - (now - last_draw)));
    }
}

static int
main_interactive(const struct main_opts *o)
{
    struct main_ui ui;
    struct source *src;
    struct err e = {0, ""};
    int w, h, sig;

    memset(&ui, 0, sizeof ui);
    src = source_http_new(o->server, o->token);
    ui.detail_src = source_http_new(o->server, o->token);
    if (src == NULL || ui.detail_src == NULL) {
        fprintf(stderr, "labgate-tui: out of memory\n");
        source_free(src);
        source_free(ui.detail_src);
        return 1;
    }
    if (term_start(main_color_wanted(), &e) != 0) {
        fprintf(stderr, "labgate-tui: %s\n", e.msg);
        source_free(src);
        source_free(ui.detail_src);
        return 1;
    }
    model_init(&ui.m, o->server, o->title);
    model_set_prefix(&ui.m, o->prefix);
    ui.c.ascii = !term_locale_utf8();
    term_size(&w, &h);
    canvas_resize(&ui.c, w, h);
    if (source_follow_start(&ui.follow, src, o->interval_s, 25,
                            o->summary_path) == 0)
        main_loop(&ui);
    else
        e.code = ERR_IO;
    term_stop();
    source_follow_stop(&ui.follow);
    source_free(ui.detail_src);
    canvas_free(&ui.c);
    model_free(&ui.m);
    sig = term_quit_signal();
    if (e.code != 0)
        fprintf(stderr, "labgate-tui: cannot start the follower thread\n");
    return sig ? 128 + sig : e.code != 0;
}

int
main(int argc, char **argv)
{
    struct main_opts o;
    int rc;

    setlocale(LC_ALL, "");
    rc = main_args(argc, argv, &o);
    if (rc == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = o.once ? main_once(&o) : main_interactive(&o);
        curl_global_cleanup();
    } else {
        rc = rc < 0 ? 0 : rc;
    }
    free(o.token_copy);
    return rc;
}
