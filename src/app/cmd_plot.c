/* cadenza plot: a piano-roll picture (PNG or SVG) of one MIDI file, or of two one above the other. */
#include <string.h>

#include "app.h"

typedef struct plot_args {
    const char *in, *compare[2], *out;
    const char *files[2];
    size_t n_in;
    int svg, force;
    long long width, height;
    cdz_plot_params params;
} plot_args;

/* Parses the flags into a; APP_GO_ON, or an exit status. */
static int parse_args(plot_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->params = cdz_plot_default_params();
    a->width = a->params.width, a->height = a->params.height;
    app_opt opts[] = {
        APP_ARG("IN.mid", &a->in, "the MIDI file to draw"),
        APP_OPT_STRING("--out", &a->out, "FILE", "the picture to write, PNG or SVG (an .svg name writes SVG) (required)"),
        APP_OPT_STRINGS("--compare", a->compare, 2, "A.mid B.mid", "two rolls one above the other, on the same pitch range\n"
                                                                  "and time scale"),
        APP_OPT_LONG("--width", &a->width, 200, 32768, "N", "picture width in pixels (default 1200)"),
        APP_OPT_LONG("--height", &a->height, 100, 32768, "N", "picture height in pixels (default: from the pitch range)"),
        APP_OPT_SWITCH("--svg", &a->svg, "write SVG"),
        APP_OPT_FORCE(&a->force),
        APP_END};
    const app_cmd cmd = {"plot", "IN.mid --out OUT.png [options]\n--compare A.mid B.mid --out OUT.png [options]",
                         "Draws a piano roll: time across with bar lines and numbers, pitch upward with octave labels\n"
                         "(C4 = middle C), one colour per instrument, brighter for louder notes, drums in their own lane.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    int compare = app_opt_seen(opts, "--compare") > 0;
    if (compare && a->in) return app_usage(&cmd, "give either one input or --compare A B, not both");
    if (compare) a->files[0] = a->compare[0], a->files[1] = a->compare[1], a->n_in = 2;
    else if (a->in) a->files[0] = a->in, a->n_in = 1;
    if (!a->n_in) return app_usage(&cmd, "no input MIDI file");
    if (!a->out || !*a->out) return app_usage(&cmd, "--out FILE is required");
    size_t len = strlen(a->out);
    if (a->svg && len >= 4 && strcmp(a->out + len - 4, ".png") == 0)
        return app_usage(&cmd, "--svg writes SVG, but '%s' is named .png", a->out);
    if (cdz_plot_is_svg_path(a->out)) a->svg = 1;
    a->params.width = (int32_t)a->width;
    if (app_opt_seen(opts, "--height")) a->params.height = (int32_t)a->height;
    return APP_GO_ON;
}

/* The last part of a path, for titles. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Reads one input, failing with one line naming the file when it cannot be read or holds no notes. */
static int load(cdz_score *s, const char *path) {
    if (app_read_score(s, path) != EXIT_OK) return EXIT_FAIL;
    if (s->n_notes == 0) {
        app_error("%s: no notes to plot", path);
        cdz_score_free(s);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_plot(int argc, char **argv) {
    plot_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!app_output_ok(a.out, a.force)) return EXIT_FAIL;
    cdz_score scores[2];
    size_t loaded = 0;
    char titles[2][512], dur[32];
    for (; loaded < a.n_in; loaded++) {
        if ((rc = load(&scores[loaded], a.files[loaded])) != EXIT_OK) break;
        app_format_duration(scores[loaded].duration_s, dur, sizeof dur);
        snprintf(titles[loaded], sizeof titles[loaded], "%s \xE2\x80\x94 %s", base_name(a.files[loaded]), dur);
    }
    if (rc == EXIT_OK) {
        const cdz_score *sp[2] = {&scores[0], &scores[1]};
        const char *tp[2] = {titles[0], titles[1]};
        cdz_error err = {0};
        cdz_plot_layout l;
        /* The layout's complaints (a picture too small) do not name the file; the writers' do. */
        if (cdz_plot_layout_compute(&l, sp, a.n_in, &a.params, &err) != CDZ_OK) {
            app_error("%s: %s", a.out, err.msg);
            rc = EXIT_FAIL;
        } else if ((a.svg ? cdz_plot_pianoroll_svg(a.out, sp, tp, a.n_in, &a.params, &err)
                          : cdz_plot_pianoroll_write(a.out, sp, tp, a.n_in, &a.params, &err)) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            printf("wrote %s (%s, %ld x %ld pixels)\n", a.out, a.svg ? "SVG" : "PNG", (long)l.width, (long)l.height);
        }
    }
    for (size_t i = 0; i < loaded; i++) cdz_score_free(&scores[i]);
    return rc;
}
