/*
 * Benchmark (not a test): labgate-tui with 10,000 suites.  Writes a
 * GET /lab/summary answer with 10,000 suites on all three auth paths,
 * loads it into the model as the dashboard does, then times full redraws of the
 * matrix at 200x50: re-sorting (the sort is forced dirty each time, the worst
 * case), drawing into the canvas, and copying the canvas to a real
 * curses screen on /dev/null.  Prints the mean and worst redraw time and
 * the peak resident memory.  Run: build/tui/labgate-tui-bench [SUITES]
 */
#include <curses.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "buf.h"
#include "canvas.h"
#include "model.h"
#include "term.h"
#include "timefmt.h"
#include "view.h"

/*
 * The summary text the server would send, written directly (building it
 * as a jansson tree would itself take 100 MB and spoil the measurement).
 */
static char *
bench_summary(int suites, size_t *len)
{
    static const char *const auths[] = {"none", "jwt", "iam"};
    static const char *const st[] = {"pass", "fail", "error", "skip"};
    struct buf b = BUF_INIT;
    long long id = 0;
    char when[32];

    timefmt_iso8601(timefmt_now_ms() - 90000, when, sizeof when);
    buf_puts(&b, "{\"generated_at\":\"x\",\"last_id\":0,\"cells\":[");
    for (int i = 0; i < suites; i++) {
        for (int a = 0; a < 3; a++) {
            const char *s = st[(i * 7 + a) % 11 < 8 ? 0 : (i + a) % 4];
            char name[64];
            id++;
            snprintf(name, sizeof name, "suite-%05d-%s", i,
                     i % 3 ? "integration" : "unit");
            buf_printf(&b,
                       "%s{\"suite\":\"%s\",\"auth\":\"%s\",\"status\":"
                       "\"%s\",\"last_id\":%lld,\"last_at\":\"%s\","
                       "\"counts\":{\"pass\":%d,\"fail\":%d,\"error\":%d,"
                       "\"skip\":1},\"recent\":\"PPPFPPPPEPPPPSPPPPPF\","
                       "\"last\":{\"id\":%lld,\"received_at\":\"%s\","
                       "\"route\":\"/lab/results\",\"auth\":\"%s\","
                       "\"suite\":\"%s\",\"status\":\"%s\",\"principal\":"
                       "\"127.0.0.1\",\"identity\":{\"source_addr\":"
                       "\"127.0.0.1\",\"user_agent\":\"curl/7.88.1\","
                       "\"request_id\":\"0123456789abcdef\"}}}",
                       id > 1 ? "," : "", name, auths[a], s, id, when, i % 50,
                       i % 7, i % 3, id, when, auths[a], name, s);
        }
    }
    buf_puts(&b, "]}");
    *len = b.len;
    return buf_steal(&b);
}

/* Current resident memory in MB, from /proc/self/statm. */
static double
bench_rss_mb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * 4096.0 / (1024.0 * 1024.0);
}

int
main(int argc, char **argv)
{
    int suites = argc > 1 ? atoi(argv[1]) : 10000, rounds = 200;
    struct canvas c = {0, 0, 0, NULL};
    struct err e = {0, ""};
    struct rusage ru;
    struct model m;
    double total = 0, worst = 0;
    FILE *devnull = fopen("/dev/null", "w");
    SCREEN *scr;
    size_t len;
    char *text;

    setlocale(LC_ALL, "C.UTF-8");
    scr = newterm("xterm-256color", devnull, stdin);
    if (scr == NULL) {
        fprintf(stderr, "cannot start curses on /dev/null\n");
        return 1;
    }
    resizeterm(50, 200);
    model_init(&m, "http://127.0.0.1:8080", NULL);
    text = bench_summary(suites, &len);
    printf("summary_bytes=%zu rss_text_only_mb=%.1f\n", len, bench_rss_mb());
    if (model_apply_summary(&m, text, len, &e) != 0) {
        fprintf(stderr, "summary: %s\n", e.msg);
        return 1;
    }
    printf("rss_text_and_model_mb=%.1f\n", bench_rss_mb());
    free(text);
    malloc_trim(0);
    printf("rss_model_only_mb=%.1f\n", bench_rss_mb());
    canvas_resize(&c, 200, 50);
    m.sort = MODEL_SORT_FAILURES;
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = timefmt_mono_ns();
        double ms;
        m.rows_dirty = 1; /* as if a result had just arrived */
        m.sel_row = (size_t)(i * 37) % m.nsuites;
        view_draw(&m, &c, timefmt_now_ms());
        term_draw(&c);
        ms = (double)(timefmt_mono_ns() - t0) / 1e6;
        total += ms;
        if (ms > worst)
            worst = ms;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("suites=%d cells=%d redraws=%d mean_ms=%.2f worst_ms=%.2f "
           "max_rss_mb=%.1f\n",
           suites, suites * 3, rounds, total / rounds, worst,
           (double)ru.ru_maxrss / 1024.0);
    endwin();
    delscreen(scr);
    fclose(devnull);
    canvas_free(&c);
    model_free(&m);
    return 0;
}
