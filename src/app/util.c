/* Messages, usage errors and JSON output for the subcommands. */
#include "app.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

double app_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int app_parse_long(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int app_parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

void app_format_duration(double s, char *buf, size_t n) {
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void app_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cadenza: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int app_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

void json_string_n(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20 || c >= 0x7F) {
            /* Names in MIDI files have no declared encoding; bytes outside ASCII are escaped as Latin-1. */
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

void json_string(FILE *f, const char *s) { json_string_n(f, s, strlen(s)); }

void json_number(FILE *f, double v) {
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", v);
    /* Trim trailing zeros for readability: 2.500000 -> 2.5, 3.000000 -> 3 */
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0') *end-- = 0;
        if (end == dot) *end = 0;
    }
    if (strcmp(buf, "-0") == 0) strcpy(buf, "0");
    fputs(buf, f);
}

void app_key_name(int sharps, int minor, char *buf, size_t n) {
    static const char *const major[15] = {"Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C",
                                          "G",  "D",  "A",  "E",  "B",  "F#", "C#"};
    static const char *const minor_[15] = {"Ab", "Eb", "Bb", "F", "C",  "G",  "D", "A",
                                           "E",  "B",  "F#", "C#", "G#", "D#", "A#"};
    if (sharps < -7 || sharps > 7)
        snprintf(buf, n, "unknown");
    else
        snprintf(buf, n, "%s %s", (minor ? minor_ : major)[sharps + 7], minor ? "minor" : "major");
}

void app_describe_stats(const cdz_extract_stats *s, char *buf, size_t n) {
    const struct {
        uint64_t v;
        const char *what;
    } c[] = {{s->polyphonic_tracks, "polyphonic tracks"}, {s->too_short, "too short"},
             {s->too_few_pitches, "too few pitch classes"}, {s->non_integer_bar, "parts with an unusable bar length"},
             {s->empty, "empty"}, {s->not_four_voices, "not four voices"}, {s->out_of_range, "pitches out of range"},
             {s->unsupported_meter, "in a meter the codec has no token for"}};
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (c[i].v && k < n) k += (size_t)snprintf(buf + k, n - k, "%s%llu %s", k ? ", " : " (dropped: ", (unsigned long long)c[i].v, c[i].what);
    if (k && k < n) snprintf(buf + k, n - k, ")");
}

size_t app_model_dirs(char dirs[][PATH_MAX], size_t cap) {
    const char *env = getenv("CADENZA_MODELS");
    if (env && !*env) env = NULL; /* set but empty: as if unset */
    size_t n = 0;
    if (env) { /* $CADENZA_MODELS alone when set */
        if (cap > 0) snprintf(dirs[n++], PATH_MAX, "%s", env);
        return n;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    /* ./models, then models/ beside the program's build folder (build/ or build/san/) */
    if (n < cap) snprintf(dirs[n++], PATH_MAX, "models");
    if (exe[0] && n < cap) snprintf(dirs[n++], PATH_MAX, "%.*s/../models", PATH_MAX - 16, exe);
    if (exe[0] && n < cap) snprintf(dirs[n++], PATH_MAX, "%.*s/../../models", PATH_MAX - 16, exe);
    return n;
}

int app_find_model(const char *name, char *buf, size_t n) {
    if (!*name || strchr(name, '/')) {
        app_error("--model takes the name of a shipped model (such as performance), not a path: use --checkpoint");
        return 0;
    }
    char dirs[4][PATH_MAX];
    size_t nd = app_model_dirs(dirs, 4);
    for (size_t i = 0; i < nd; i++) {
        snprintf(buf, n, "%s/%s.safetensors", dirs[i], name);
        if (access(buf, R_OK) == 0) return 1;
    }
    const char *env = getenv("CADENZA_MODELS");
    app_error("the model '%s' (models/%s.safetensors) was not found: 'cadenza models' lists the shipped ones (%s)", name,
              name, env && *env ? "looked in $CADENZA_MODELS only" : "set CADENZA_MODELS to the folder that holds them");
    return 0;
}

int app_parse_sampling(const char *flag, const char *value, cdz_sample_params *sp, long long *seed) {
    app_opt opts[] = {APP_SAMPLING_OPTS(sp, seed), APP_END};
    for (app_opt *o = opts; o->kind != APP_END_KIND; o++) {
        if (strcmp(o->name, flag) != 0) continue;
        long long ll;
        double d;
        if (o->kind == APP_LONG || o->kind == APP_INT) {
            if (!app_parse_long(value, o->lo, o->hi, &ll)) return 0;
            if (o->kind == APP_LONG) *(long long *)o->dest = ll;
            else *(int *)o->dest = (int)ll;
        } else {
            if (!app_parse_double(value, o->flo, o->fhi, &d)) return 0;
            *(float *)o->dest = (float)d;
        }
        return 1;
    }
    return 0;
}

int app_has_extension(const char *path, const char *ext) {
    size_t n = strlen(path), k = strlen(ext);
    return n > k && strcasecmp(path + n - k, ext) == 0;
}

int app_output_ok(const char *path, int force) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 1;
        app_error("%s: cannot write here: %s", path, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        app_error("%s is a folder; name a file to write", path);
        return 0;
    }
    if (force) return 1;
    app_error("%s exists; use --force to replace it", path);
    return 0;
}

/* Puts a text event at the start of track 0 (the writer needs ticks in order). */
static cdz_status add_text_first(cdz_midi *m, const char *text) {
    cdz_status st = cdz_midi_add_data(m, 0, 0, CDZ_MIDI_EVENT_META, CDZ_META_TEXT, (const uint8_t *)text, strlen(text));
    if (st != CDZ_OK) return st;
    cdz_midi_track *t = &m->tracks[0];
    cdz_midi_event e = t->events[t->n_events - 1];
    memmove(t->events + 1, t->events, (t->n_events - 1) * sizeof *t->events);
    t->events[0] = e;
    return CDZ_OK;
}

int app_read_score(cdz_score *s, const char *path) {
    cdz_error err = {0};
    if (cdz_score_read_file(s, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    app_note_score_warnings(s, path);
    return EXIT_OK;
}

void app_note_score_warnings(const cdz_score *s, const char *path) {
    char line[200];
    for (size_t i = 0; cdz_score_warning(s, i, line, sizeof line); i++) fprintf(stderr, "note: %s: %s\n", path, line);
}

int app_write_score(const cdz_score *s, const char *path, const char *text) {
    cdz_error err = {0};
    cdz_midi midi;
    cdz_status st = cdz_score_to_midi(&midi, s, 1, &err);
    if (st == CDZ_OK) {
        st = text ? add_text_first(&midi, text) : CDZ_OK;
        if (st == CDZ_OK) st = cdz_midi_write_file(&midi, path, &err);
        else cdz_error_set(&err, st, "out of memory");
        cdz_midi_free(&midi);
    }
    if (st != CDZ_OK) app_error("%s", err.msg);
    return st == CDZ_OK ? EXIT_OK : EXIT_FAIL;
}

int app_set_backend(cdz_model *m, const char *name) {
    const cdz_backend *be = cdz_backend_find(name);
    if (!be) {
        const cdz_backend *const *list;
        size_t n = cdz_backend_list(&list);
        char names[256] = "";
        for (size_t i = 0; i < n; i++) snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", list[i]->name);
        app_error("no backend '%s' in this build (it has: %s)", name, names);
        return EXIT_FAIL;
    }
    cdz_error err = {0};
    if (cdz_model_set_backend(m, be, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int app_folder_writable(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0) {
        app_error("%s cannot be written: the folder %s %s", path, dir, errno == ENOENT ? "does not exist" : strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        app_error("%s cannot be written: %s is not a folder", path, dir);
        return 0;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        app_error("%s cannot be written: the folder %s is %s", path, dir,
                  errno == EROFS ? "on a read-only file system" : errno == EACCES ? "not writable by you" : strerror(errno));
        return 0;
    }
    return 1;
}

int app_model_sampling(const char *ckpt, const app_opt *opts, cdz_sample_params *sp) {
    if (app_opt_seen(opts, "--temperature") || app_opt_seen(opts, "--top-k") || app_opt_seen(opts, "--top-p")) return EXIT_OK;
    cdz_error err = {0};
    int named = 0;
    if (cdz_gen_checkpoint_sampling(ckpt, sp, &named, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (named)
        fprintf(stderr, "note: sampling at temperature %g, top-k %d, top-p %g: the model's recommended setting (its card says "
                        "why); --temperature 1 --top-p 1 samples its own distribution\n", sp->temperature, sp->top_k, sp->top_p);
    return EXIT_OK;
}

int app_eval_window(const cdz_model *m) {
    if (cdz_model_audio_rate(m)) return cdz_model_train_defaults(m).seq; /* audio: the training window, in samples */
    if (strcmp(cdz_model_kind_name(m), "accompaniment") == 0 && cdz_model_max_len(m) > 0) return cdz_model_max_len(m);
    return 1024;
}
