/* cadenza plot: a piano-roll picture (PNG or SVG) of one MIDI file, or of two one above the other; or
 * the spectrogram of a WAV file. */
#include <stdio.h>
#include <string.h>

#include "cadenza/audio.h"

#include "app.h"

typedef struct plot_args {
    const char *in, *compare[2], *out, *spectrogram;
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
        APP_OPT_STRING("--spectrogram", &a->spectrogram, "IN.wav", "draw a WAV file's spectrogram instead (PNG; any sample\n"
                                                                  "format, channels averaged)"),
        APP_OPT_FORCE(&a->force),
        APP_END};
    const app_cmd cmd = {"plot", "IN.mid --out OUT.png [options]\n--compare A.mid B.mid --out OUT.png [options]\n"
                                 "--spectrogram IN.wav --out OUT.png [--width N] [--height N]",
                         "Draws a piano roll: time across with bar lines and numbers, pitch upward with octave labels\n"
                         "(C4 = middle C), one colour per instrument, brighter for louder notes, drums in their own lane.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (a->spectrogram) {
        if (a->in || app_opt_seen(opts, "--compare")) return app_usage(&cmd, "--spectrogram draws one WAV file: give no MIDI input");
        if (!a->out || !*a->out) return app_usage(&cmd, "--out FILE.png is required");
        if (a->svg || cdz_plot_is_svg_path(a->out)) return app_usage(&cmd, "a spectrogram is drawn as PNG, not SVG");
        a->params.width = (int32_t)a->width;
        a->params.height = app_opt_seen(opts, "--height") ? (int32_t)a->height : 400;
        return APP_GO_ON;
    }
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

/* The spectrogram of a WAV file, mono at its own rate. */
static int plot_spectrogram(const plot_args *a) {
    cdz_audio_f clip;
    cdz_error err = {0};
    if (cdz_wav_read_any(a->spectrogram, &clip, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    float *x = NULL;
    size_t n = 0;
    uint32_t rate = clip.sample_rate;
    char did[256], title[512], dur[32];
    cdz_status st = cdz_audio_f_conform(&clip, rate, &x, &n, did, sizeof did, &err);
    cdz_audio_f_free(&clip);
    if (!st && did[0]) fprintf(stderr, "note: %s: %s\n", a->spectrogram, did);
    cdz_canvas c = {0};
    app_format_duration((double)n / rate, dur, sizeof dur);
    snprintf(title, sizeof title, "%s \xE2\x80\x94 %s, %u Hz", base_name(a->spectrogram), dur, rate);
    if (!st) st = cdz_plot_spectrogram(&c, x, n, (int)rate, title, a->params.width, a->params.height, &err);
    if (!st) st = cdz_png_write(a->out, &c, &err);
    cdz_free(x);
    cdz_canvas_free(&c);
    if (st) {
        app_error("%s: %s", a->spectrogram, err.msg);
        return EXIT_FAIL;
    }
    printf("wrote %s (spectrogram, PNG, %ld x %ld pixels)\n", a->out, (long)a->params.width, (long)a->params.height);
    return EXIT_OK;
}

int cmd_plot(int argc, char **argv) {
    plot_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!app_output_ok(a.out, a.force)) return EXIT_FAIL;
    if (a.spectrogram) return plot_spectrogram(&a);
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
