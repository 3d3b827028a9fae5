/* cadenza plot: a piano-roll picture (PNG or SVG) of one MIDI file, or of two one above the other. */
#include <string.h>

#include "app.h"

static const char PLOT_USAGE[] =
    "usage: cadenza plot IN.mid --out OUT.png [options]\n"
    "       cadenza plot --compare A.mid B.mid --out OUT.png [options]\n"
    "\n"
    "Draws a piano roll: time across with bar lines and numbers, pitch upward with octave labels\n"
    "(C4 = middle C), one colour per instrument, brighter for louder notes, drums in their own lane.\n"
    "\n"
    "options:\n"
    "  --out FILE       the picture to write, PNG or SVG (an .svg name writes SVG) (required)\n"
    "  --compare A B    two rolls one above the other, on the same pitch range and time scale\n"
    "  --width N        picture width in pixels (default 1200)\n"
    "  --height N       picture height in pixels (default: from the pitch range)\n"
    "  --svg            write SVG\n"
    "  -h, --help       this help\n";

typedef struct plot_args {
    const char *in[2];
    size_t n_in;
    const char *out;
    int svg, compare;
    cdz_plot_params params;
} plot_args;

/* The value after a flag, or NULL (having printed the usage error) when it is missing. */
static const char *flag_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        app_usage_error(PLOT_USAGE, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_size(const char *flag, const char *v, long long lo, int32_t *out) {
    long long n;
    if (!app_parse_long(v, lo, 32768, &n))
        return app_usage_error(PLOT_USAGE, "%s '%s': expected a whole number from %lld to 32768", flag, v, lo);
    *out = (int32_t)n;
    return EXIT_OK;
}

/* One flag or input at argv[*i]; EXIT_OK, or the usage error's status. */
static int parse_one(plot_args *a, int argc, char **argv, int *i) {
    const char *arg = argv[*i], *v;
    if (strcmp(arg, "--out") == 0) {
        if (!(v = flag_value(argc, argv, i))) return EXIT_USAGE;
        a->out = v;
    } else if (strcmp(arg, "--width") == 0 || strcmp(arg, "--height") == 0) {
        if (!(v = flag_value(argc, argv, i))) return EXIT_USAGE;
        return parse_size(arg, v, arg[2] == 'w' ? 200 : 100, arg[2] == 'w' ? &a->params.width : &a->params.height);
    } else if (strcmp(arg, "--svg") == 0) {
        a->svg = 1;
    } else if (strcmp(arg, "--compare") == 0) {
        if (*i + 2 >= argc || a->compare) return app_usage_error(PLOT_USAGE, "--compare needs two MIDI files");
        a->compare = 1;
        a->in[0] = argv[++*i];
        a->in[1] = argv[++*i];
    } else if (arg[0] == '-' && arg[1]) {
        return app_usage_error(PLOT_USAGE, "unknown option '%s'", arg);
    } else if (a->n_in >= 1) {
        return app_usage_error(PLOT_USAGE, "unexpected argument '%s' (one input, or --compare A B)", arg);
    } else {
        a->in[a->n_in++] = arg;
    }
    return EXIT_OK;
}

static int parse_args(plot_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->params = cdz_plot_default_params();
    for (int i = 0; i < argc; i++) {
        int rc = parse_one(a, argc, argv, &i);
        if (rc != EXIT_OK) return rc;
    }
    if (a->compare && a->n_in) return app_usage_error(PLOT_USAGE, "give either one input or --compare A B, not both");
    if (a->compare) a->n_in = 2;
    if (!a->n_in) return app_usage_error(PLOT_USAGE, "no input MIDI file");
    if (!a->out || !*a->out) return app_usage_error(PLOT_USAGE, "--out FILE is required");
    size_t len = strlen(a->out);
    if (a->svg && len >= 4 && strcmp(a->out + len - 4, ".png") == 0)
        return app_usage_error(PLOT_USAGE, "--svg writes SVG, but '%s' is named .png", a->out);
    if (cdz_plot_is_svg_path(a->out)) a->svg = 1;
    return EXIT_OK;
}

/* The last part of a path, for titles. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Reads one input, failing with one line naming the file when it cannot be read or holds no notes. */
static int load(cdz_score *s, const char *path) {
    cdz_error err = {0};
    if (cdz_score_read_file(s, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (s->n_notes == 0) {
        app_error("%s: no notes to plot", path);
        cdz_score_free(s);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_plot(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (app_is_help(argv[i])) {
            fputs(PLOT_USAGE, stdout);
            return EXIT_OK;
        }
    plot_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc != EXIT_OK) return rc;
    cdz_score scores[2];
    size_t loaded = 0;
    char titles[2][512], dur[32];
    for (; loaded < a.n_in; loaded++) {
        if ((rc = load(&scores[loaded], a.in[loaded])) != EXIT_OK) break;
        app_format_duration(scores[loaded].duration_s, dur, sizeof dur);
        snprintf(titles[loaded], sizeof titles[loaded], "%s \xE2\x80\x94 %s", base_name(a.in[loaded]), dur);
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
