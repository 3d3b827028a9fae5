/* cadenza vae sample|interpolate|reconstruct|encode|attribute: the latent space of a MusicVAE model
 * (kind music_vae). The library (cadenza/vae.h) cuts windows, encodes, decodes, interpolates and measures
 * attribute directions; this file reads the flags, the MIDI files, the model and the attribute vectors,
 * checks every output name before any work, and writes and reports the files. A command that fails
 * after it has begun writing removes what it wrote, so a failure leaves nothing half done. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "cadenza/vae.h"

static const char VAE_OVERVIEW[] =
    "The latent space of a MusicVAE model (train one with 'cadenza train --model music_vae'): sample\n"
    "new windows of music, interpolate between two pieces, reconstruct a piece, print its latent codes,\n"
    "and measure attribute directions (density, range, syncopation, in_key) to move along.\n";

static const char MODEL_HELP[] =
    "a music_vae checkpoint (a path) or a shipped model's name ('cadenza models')\n(required)";
static const char ATTRIBUTE_HELP[] =
    "add AMOUNT times an attribute vector to every latent (repeatable; they add up):\n"
    "NAME is density, range, syncopation or in_key, read from the file 'cadenza vae\n"
    "attribute' writes beside the model (MODEL.NAME.json), or the path of such a file;\n"
    "e.g. density:+1.5";

/* Where sample i's latent comes from: a stream of its own, apart from the decoder's (seed, latent)
 * streams, so that sample i is the same whatever --n is. */
enum { LATENT_SITE = 0x6c6174656e74 }; /* "latent" */
static uint64_t latent_seed(uint64_t seed, int i) { return cdz_random_at(cdz_random_at(seed, LATENT_SITE), (uint64_t)i); }

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "runs/vae.safetensors" -> "runs/vae" (with_dir) or "vae". */
static void strip_safetensors(const char *path, int with_dir, char *buf, size_t n) {
    snprintf(buf, n, "%s", with_dir ? path : base_name(path));
    size_t len = strlen(buf), k = strlen(".safetensors");
    if (len > k && strcasecmp(buf + len - k, ".safetensors") == 0) buf[len - k] = 0;
}

/* "out/a.mid" -> "out/a.png" (as app_wav_name does for .wav). */
static void png_name(const char *mid, char *buf, size_t n) {
    size_t len = strlen(mid);
    const char *dot = strrchr(mid, '.'), *slash = strrchr(mid, '/');
    if (dot && (!slash || dot > slash)) len = (size_t)(dot - mid);
    snprintf(buf, n, "%.*s.png", (int)len, mid);
}

/* A file name made from parts into buf (PATH_MAX bytes): 1, or 0 having said that it is too long. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int make_path(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (k >= 0 && k < PATH_MAX) return 1;
    app_error("%.60s...: the name is too long (at most %d bytes)", buf, PATH_MAX - 1);
    return 0;
}

/* An error from the library about `path`: its message names the file already, or gets it in front. */
static void file_error(const char *path, const char *msg) {
    if (strncmp(msg, path, strlen(path)) == 0) app_error("%s", msg);
    else app_error("%s: %s", path, msg);
}

/* ---- the model ---- */

typedef struct vae_model {
    char path[PATH_MAX]; /* the checkpoint */
    cdz_model *m;
    int Z, L, bars; /* latent size, tokens and bars of a window */
} vae_model;

/* --model M: a path (it has a '/', ends in .safetensors, or names a file here) or a shipped model's
 * name: 1, with v->path set, or 0 having said why. */
static int resolve_model(const char *spec, vae_model *v) {
    struct stat st;
    if (strchr(spec, '/') || app_has_extension(spec, ".safetensors") || (stat(spec, &st) == 0 && S_ISREG(st.st_mode))) {
        snprintf(v->path, sizeof v->path, "%s", spec);
        return 1;
    }
    return app_find_model(spec, v->path, sizeof v->path);
}

/* Loads v->path and checks that it is a MusicVAE: EXIT_OK or EXIT_FAIL (said). */
static int load_model(vae_model *v) {
    cdz_error err = {0};
    if (cdz_checkpoint_load(v->path, &v->m, &err) != CDZ_OK) {
        file_error(v->path, err.msg);
        v->m = NULL;
        return EXIT_FAIL;
    }
    if (!cdz_vae_is(v->m)) {
        app_error("%s: a %s model; 'cadenza vae' needs a music_vae model (train one with 'cadenza train --model music_vae')",
                  v->path, cdz_model_kind_name(v->m));
        cdz_model_free(v->m);
        v->m = NULL;
        return EXIT_FAIL;
    }
    v->Z = cdz_vae_latent_dim(v->m);
    v->L = cdz_vae_window_tokens(v->m);
    v->bars = cdz_vae_window_bars(v->m);
    return EXIT_OK;
}

/* The windows the model's codec cuts from a MIDI file: EXIT_OK with w->n_seqs >= 1 windows of v->L
 * tokens, or EXIT_FAIL having said why, naming the file (w is then empty). */
static int read_windows(const vae_model *v, const char *path, cdz_tokens *w) {
    memset(w, 0, sizeof *w);
    cdz_score s;
    if (app_read_score(&s, path) != EXIT_OK) return EXIT_FAIL;
    cdz_error err = {0};
    cdz_status st = cdz_vae_windows(v->m, &s, w, &err);
    cdz_score_free(&s);
    if (st == CDZ_OK && w->n_seqs == 0) st = cdz_error_set(&err, CDZ_ERR_RANGE, "no window for this model");
    for (size_t i = 0; st == CDZ_OK && i < w->n_seqs; i++)
        if (w->offsets[i + 1] - w->offsets[i] != (size_t)v->L || w->offsets[i] != i * (size_t)v->L)
            st = cdz_error_set(&err, CDZ_ERR_FORMAT, "window %zu holds %zu tokens, not the model's %d", i,
                               w->offsets[i + 1] - w->offsets[i], v->L);
    if (st != CDZ_OK) {
        file_error(path, err.msg);
        cdz_tokens_free(w);
        memset(w, 0, sizeof *w);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* mu (Z floats) of the first window of a MIDI file: EXIT_OK or EXIT_FAIL (said). */
static int first_window_mu(const vae_model *v, const char *path, float *mu) {
    cdz_tokens w;
    if (read_windows(v, path, &w) != EXIT_OK) return EXIT_FAIL;
    cdz_error err = {0};
    int rc = EXIT_OK;
    if (cdz_vae_encode(v->m, w.tokens, 1, mu, NULL, &err) != CDZ_OK) {
        file_error(path, err.msg);
        rc = EXIT_FAIL;
    }
    cdz_tokens_free(&w);
    return rc;
}

/* ---- attribute vectors ---- */

/* --attribute NAME_OR_PATH:AMOUNT, checked when parsed (the name) and resolved once the model is known. */
typedef struct attr_spec {
    char name[PATH_MAX]; /* the feature's name or the file's path, as given */
    int is_feature;
    double amount;
} attr_spec;

static const char ATTR_FORM[] = "NAME_OR_PATH:AMOUNT, like density:+1.5 or runs/vae.range.json:-1";

/* The specs of every --attribute: 1, or 0 having printed a usage error (*rc set). */
static int parse_attr_specs(const app_cmd *cmd, const app_list *l, attr_spec **out, int *rc) {
    *out = NULL;
    if (l->n == 0) return 1;
    attr_spec *a = calloc((size_t)l->n, sizeof *a);
    if (!a) {
        *rc = app_usage(cmd, "out of memory");
        return 0;
    }
    for (int i = 0; i < l->n; i++) {
        const char *s = l->v[i], *colon = strrchr(s, ':');
        if (!colon || colon == s || !colon[1]) {
            *rc = app_usage(cmd, "bad value '%s' for --attribute: %s", s, ATTR_FORM);
            free(a);
            return 0;
        }
        if (!app_parse_double(colon + 1, -1000, 1000, &a[i].amount)) {
            *rc = app_usage(cmd, "bad value '%s' for --attribute: the amount '%s' is not a number from -1000 to 1000", s,
                            colon + 1);
            free(a);
            return 0;
        }
        snprintf(a[i].name, sizeof a[i].name, "%.*s", (int)(colon - s), s);
        cdz_vae_feature f;
        cdz_error err = {0};
        a[i].is_feature = cdz_vae_feature_parse(a[i].name, &f, &err) == CDZ_OK;
        if (!a[i].is_feature && !strchr(a[i].name, '/') && !app_has_extension(a[i].name, ".json")) {
            *rc = app_usage(cmd, "bad value '%s' for --attribute: %s (or the path of a .json file 'cadenza vae attribute' "
                            "wrote)", s, err.msg);
            free(a);
            return 0;
        }
    }
    *out = a;
    return 1;
}

/* Where a spec's vector is: its path, or MODEL.NAME.json beside the checkpoint. */
static int attr_path(const vae_model *v, const attr_spec *a, char *buf) {
    if (!a->is_feature) return make_path(buf, "%s", a->name);
    char stem[PATH_MAX];
    strip_safetensors(v->path, 1, stem, sizeof stem);
    return make_path(buf, "%s.%s.json", stem, a->name);
}

/* Adds amount x the vector of a->name into acc (Z floats): EXIT_OK or EXIT_FAIL (said). */
static int add_attribute(const vae_model *v, const attr_spec *a, float *acc) {
    char path[PATH_MAX], model_file[PATH_MAX];
    if (!attr_path(v, a, path)) return EXIT_FAIL;
    snprintf(model_file, sizeof model_file, "%s", base_name(v->path));
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_error err = {0};
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        if (a->is_feature)
            app_error("%s: no such file: the %s vector of %s is made by 'cadenza vae attribute --model %s --name %s --in "
                      "DIR'", path, a->name, model_file, v->path, a->name);
        else app_error("%s: no such file", path);
        return EXIT_FAIL;
    }
    if (cdz_file_read_all(path, &bytes, &len, &err) != CDZ_OK) {
        file_error(path, err.msg);
        return EXIT_FAIL;
    }
    cdz_json *j = NULL;
    int rc = EXIT_FAIL;
    if (cdz_json_parse((const char *)bytes, len, path, &j, &err) != CDZ_OK) {
        file_error(path, err.msg);
        goto done;
    }
    const cdz_json *model = cdz_json_get(j, "model"), *dim = cdz_json_get(j, "latent_dim"), *vec = cdz_json_get(j, "vector");
    const char *attribute = cdz_json_get_string(j, "attribute", "?");
    if (!model || model->type != CDZ_JSON_STRING || !dim || dim->type != CDZ_JSON_NUMBER || !vec ||
        vec->type != CDZ_JSON_ARRAY) {
        app_error("%s: not an attribute vector ('cadenza vae attribute' writes them: \"model\", \"latent_dim\" and "
                  "\"vector\" are needed)", path);
        goto done;
    }
    if (dim->number != v->Z || vec->n != (size_t)v->Z) {
        app_error("%s: a vector of latent size %g (%zu numbers) for %s; %s has latent size %d: a vector only means "
                  "something in the latent space it was measured in", path, dim->number, vec->n, model->string,
                  model_file, v->Z);
        goto done;
    }
    if (strcmp(model->string, model_file) != 0) {
        app_error("%s: measured on the model %s, not %s: a vector only means something in the latent space it was "
                  "measured in (make one for this model with 'cadenza vae attribute --model %s --name %s --in DIR')",
                  path, model->string, model_file, v->path, attribute);
        goto done;
    }
    for (int k = 0; k < v->Z; k++)
        if (vec->items[k].type != CDZ_JSON_NUMBER || !isfinite(vec->items[k].number)) {
            app_error("%s: \"vector\" item %d is not a finite number", path, k);
            goto done;
        }
    for (int k = 0; k < v->Z; k++) acc[k] += (float)(a->amount * vec->items[k].number);
    rc = EXIT_OK;
done:
    cdz_json_free(j);
    cdz_free(bytes);
    return rc;
}

/* The sum of every --attribute's amount x vector into acc (Z floats, zeroed here): EXIT_OK or EXIT_FAIL
 * (said). */
static int sum_attributes(const vae_model *v, const attr_spec *a, int n, float *acc) {
    memset(acc, 0, (size_t)v->Z * sizeof *acc);
    for (int i = 0; i < n; i++)
        if (add_attribute(v, &a[i], acc) != EXIT_OK) return EXIT_FAIL;
    return EXIT_OK;
}

/* ", attributes density:+1.5 range:-1" for the text event of a file. */
static void describe_attrs(const attr_spec *a, int n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s:%+g", i ? " " : ", attributes ", a[i].name, a[i].amount);
}

/* ---- outputs: every name checked before any work; on a failure, what was written is removed ---- */

typedef struct out_plan {
    char (*path)[PATH_MAX];
    unsigned char *done;
    int n, cap;
    char made_dir[PATH_MAX]; /* a folder this command made (removed again when empty) */
} out_plan;

static int plan_init(out_plan *p, int cap) {
    memset(p, 0, sizeof *p);
    p->path = calloc((size_t)cap, sizeof *p->path);
    p->done = calloc((size_t)cap, 1);
    p->cap = cap;
    if (p->path && p->done) return 1;
    app_error("out of memory");
    return 0;
}

static void plan_free(out_plan *p) {
    free(p->path);
    free(p->done);
}

/* Adds a path (PATH_MAX bytes at most, as make_path makes them); returns its index. */
static int plan_add(out_plan *p, const char *path) {
    size_t len = strlen(path);
    CDZ_ASSERT(p->n < p->cap && len < PATH_MAX);
    memcpy(p->path[p->n], path, len + 1);
    return p->n++;
}

/* Every planned file may be written (app_output_ok), no name twice, and the folder of each exists and
 * takes files; a missing out_dir (may be NULL) is made first. 1, or 0 having said why. */
static int plan_check(out_plan *p, const char *out_dir, int force) {
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; k < i; k++)
            if (strcmp(p->path[i], p->path[k]) == 0) {
                app_error("%s would be written twice: give the outputs different names", p->path[i]);
                return 0;
            }
        if (!app_output_ok(p->path[i], force)) return 0;
    }
    if (out_dir) {
        if (mkdir(out_dir, 0777) == 0) snprintf(p->made_dir, sizeof p->made_dir, "%s", out_dir);
        else if (errno != EEXIST) {
            app_error("%s: cannot make the folder: %s", out_dir, errno == EROFS ? "the file system is read-only" : strerror(errno));
            return 0;
        }
    }
    for (int i = 0; i < p->n; i++)
        if (!app_folder_writable(p->path[i])) return 0;
    return 1;
}

/* After a failure: removes the files this command wrote (and the folder it made, if empty). Only
 * regular files: an output that was a device (--out /dev/null --force) or a link stays. */
static void plan_rollback(out_plan *p) {
    int removed = 0;
    struct stat st;
    for (int i = 0; i < p->n; i++)
        if (p->done[i] && lstat(p->path[i], &st) == 0 && S_ISREG(st.st_mode) && unlink(p->path[i]) == 0) removed++;
    if (p->made_dir[0]) rmdir(p->made_dir);
    if (removed) fprintf(stderr, "cadenza: removed the %d file%s this command had written\n", removed, removed == 1 ? "" : "s");
}

/* --wav and --plot need FluidSynth and a SoundFont, and libpng: checked before any work. */
static int can_render(void) {
    if (!cdz_render_available()) {
        app_error("--wav: this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                  "fluid-soundfont-gm, or 'make deps') and rebuild");
        return 0;
    }
    const char *sf = NULL;
    cdz_error err = {0};
    if (cdz_render_soundfont(NULL, &sf, &err) != CDZ_OK) {
        app_error("--wav: %s", err.msg);
        return 0;
    }
    return 1;
}

static int can_plot(void) {
    if (cdz_png_available()) return 1;
    app_error("--plot: this cadenza was built without libpng: install it (apt-get install libpng-dev, or 'make deps') "
              "and rebuild");
    return 0;
}

/* ---- decoded windows ---- */

/* n windows (n x v->L tokens), each as a score of its own: EXIT_OK or EXIT_FAIL (said). */
static int window_scores(const vae_model *v, const uint16_t *tokens, int n, cdz_score *out) {
    cdz_error err = {0};
    for (int i = 0; i < n; i++)
        if (cdz_vae_to_score(v->m, tokens + (size_t)i * (size_t)v->L, 1, &out[i], &err) != CDZ_OK) {
            app_error("%s: window %d: %s", v->path, i, err.msg);
            for (int k = 0; k < i; k++) cdz_score_free(&out[k]);
            return EXIT_FAIL;
        }
    return EXIT_OK;
}

/* "2 bars, 9 notes; density 4.5, range 7, syncopation 0.11, in_key 1" for a decoded window. */
static void describe_window(const vae_model *v, const uint16_t *window, const cdz_score *s, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "%d bar%s, %zu note%s;", v->bars, v->bars == 1 ? "" : "s", s->n_notes,
                                s->n_notes == 1 ? "" : "s");
    for (int f = 0; f < CDZ_VAE_FEATURES && k < n; f++)
        k += (size_t)snprintf(buf + k, n - k, "%s %s %.3g", f ? "," : "", cdz_vae_feature_name((cdz_vae_feature)f),
                              cdz_vae_feature_value(v->m, (cdz_vae_feature)f, window));
}

/* Writes a piano roll of n scores (panels top to bottom) to path: EXIT_OK, or EXIT_FAIL (said). Scores
 * without notes are left out (the piano roll draws no empty panel), and said; with none left, nothing
 * is written and -1 returned. */
static int write_roll(const char *path, const cdz_score *scores, char (*titles)[96], int n) {
    const cdz_score **sp = calloc((size_t)n, sizeof *sp);
    const char **tp = calloc((size_t)n, sizeof *tp);
    if (!sp || !tp) {
        free(sp), free(tp);
        app_error("out of memory");
        return EXIT_FAIL;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (scores[i].n_notes) sp[k] = &scores[i], tp[k++] = titles[i];
        else fprintf(stderr, "note: %s: %s has no notes: left out of the picture\n", path, titles[i]);
    int rc = EXIT_OK;
    cdz_error err = {0};
    cdz_plot_params p = cdz_plot_default_params();
    cdz_plot_layout l;
    if (k == 0) {
        fprintf(stderr, "note: %s not written: nothing to draw\n", path);
        rc = -1;
    } else if (cdz_plot_layout_compute(&l, sp, k, &p, &err) != CDZ_OK) {
        app_error("%s: %s", path, err.msg);
        rc = EXIT_FAIL;
    } else if (cdz_plot_pianoroll_write(path, sp, tp, k, &p, &err) != CDZ_OK) {
        file_error(path, err.msg);
        rc = EXIT_FAIL;
    } else {
        printf("wrote %s (%zu piano roll%s, %ld x %ld pixels)\n", path, k, k == 1 ? "" : "s", (long)l.width, (long)l.height);
    }
    free(sp);
    free(tp);
    return rc;
}

/* ---- cadenza vae sample ---- */

static int cmd_sample(int argc, char **argv) {
    const char *model = NULL, *out_dir = "generated", *out = NULL, *similar = NULL;
    long long n = 1, seed = 1;
    float temperature = 0.5f;
    double amount = 0.5;
    int wav = 0, plot = 0, force = 0;
    app_list attrs = {0};
    app_opt opts[] = {
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL), /* generate's name for a path */
        APP_OPT_LONG("--n", &n, 1, 10000, "N", "how many windows to sample (default 1)"),
        APP_OPT_FLOAT("--temperature", &temperature, 0, 100, "X",
                      "each token drawn at X: above 1 more random, 0 the most likely (default 0.5,\nMagenta's for sampling)"),
        APP_OPT_LONG("--seed", &seed, 0, LLONG_MAX, "N",
                     "random seed (default 1): sample i's latent and tokens come from (N, i), so the\n"
                     "same seed gives the same samples whatever --n is"),
        APP_OPT_LIST("--attribute", &attrs, "SPEC", ATTRIBUTE_HELP),
        APP_OPT_STRING("--similar", &similar, "A.mid",
                       "sample near the first window of A.mid: z = S mu_A + (1 - S) noise (magenta.js's\n\"similar\")"),
        APP_OPT_DOUBLE("--amount", &amount, 0, 1, "S", "with --similar: how near, 0 to 1 (default 0.5)"),
        APP_OPT_STRING("--out-dir", &out_dir, "DIR", "where to write (default generated/); names: MODEL_seedS_I.mid"),
        APP_OPT_STRING("--out", &out, "FILE.mid", "the file to write, for --n 1"),
        APP_OPT_SWITCH("--wav", &wav, "also render each output to FILE.wav beside it (FluidSynth; see 'cadenza render')"),
        APP_OPT_SWITCH("--plot", &plot, "also draw each output's piano roll to FILE.png beside it"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"vae sample", "--model M [--n N] [--temperature X] [--seed N] [options]",
                         "New windows of music: latents drawn from N(0, 1) (or near a piece, --similar), moved along\n"
                         "attribute vectors (--attribute) and decoded; one MIDI file per window, recording the model,\n"
                         "seed and settings in a text event.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    attr_spec *specs = NULL;
    if (!model) rc = app_usage(&cmd, "--model M is required");
    else if (out && n > 1) rc = app_usage(&cmd, "--out names one file: use --out-dir with --n");
    else if (app_opt_seen(opts, "--amount") && !similar) rc = app_usage(&cmd, "--amount goes with --similar A.mid");
    else if (out && !*out) rc = app_usage(&cmd, "--out is empty: name the MIDI file to write");
    else if (!out && !*out_dir) rc = app_usage(&cmd, "--out-dir is empty: name a folder");
    if (rc != APP_GO_ON || !parse_attr_specs(&cmd, &attrs, &specs, &rc)) {
        app_list_free(&attrs);
        return rc;
    }
    vae_model v = {0};
    out_plan plan = {0};
    float *z = NULL, *acc = NULL;
    uint16_t *tokens = NULL;
    cdz_score *scores = NULL;
    int n_scores = 0, *wav_of = NULL, *png_of = NULL;
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v) || load_model(&v) != EXIT_OK) goto done;
    const int N = (int)n, Z = v.Z, L = v.L;
    z = calloc((size_t)N * (size_t)Z, sizeof *z);
    acc = calloc((size_t)Z, sizeof *acc);
    tokens = calloc((size_t)N * (size_t)L, sizeof *tokens);
    scores = calloc((size_t)N, sizeof *scores);
    wav_of = calloc((size_t)N, sizeof *wav_of);
    png_of = calloc((size_t)N, sizeof *png_of);
    if (!z || !acc || !tokens || !scores || !wav_of || !png_of) {
        app_error("out of memory");
        goto done;
    }
    if (sum_attributes(&v, specs, attrs.n, acc) != EXIT_OK) goto done;
    float *za = NULL;
    if (similar) {
        za = calloc((size_t)Z, sizeof *za);
        if (!za) {
            app_error("out of memory");
            goto done;
        }
        int ok = first_window_mu(&v, similar, za) == EXIT_OK;
        for (int i = 0; ok && i < N; i++) cdz_vae_similar(za, Z, amount, latent_seed((uint64_t)seed, i), z + (size_t)i * Z);
        free(za);
        if (!ok) goto done;
    } else {
        for (int i = 0; i < N; i++) cdz_vae_random_latent(z + (size_t)i * Z, Z, 1.0f, latent_seed((uint64_t)seed, i));
    }
    /* every output's name, before any work: nothing is replaced without --force */
    if ((wav && !can_render()) || (plot && !can_plot())) goto done;
    if (!plan_init(&plan, 3 * N)) goto done;
    char stem[PATH_MAX], path[PATH_MAX];
    strip_safetensors(v.path, 0, stem, sizeof stem);
    for (int i = 0; i < N; i++) {
        if (out ? !make_path(path, "%s", out) : !make_path(path, "%s/%s_seed%lld_%d.mid", out_dir, stem, seed, i + 1))
            goto done;
        plan_add(&plan, path);
    }
    for (int i = 0; i < N; i++) {
        char other[PATH_MAX];
        wav_of[i] = png_of[i] = -1;
        if (wav) app_wav_name(plan.path[i], other, sizeof other), wav_of[i] = plan_add(&plan, other);
        if (plot) png_name(plan.path[i], other, sizeof other), png_of[i] = plan_add(&plan, other);
    }
    if (!plan_check(&plan, out ? NULL : out_dir, force)) goto done;

    double t0 = app_now();
    cdz_error err = {0};
    for (int i = 0; i < N; i++)
        for (int k = 0; k < Z; k++) z[(size_t)i * Z + k] += acc[k];
    if (cdz_vae_decode(v.m, z, N, temperature, (uint64_t)seed, tokens, &err) != CDZ_OK) {
        file_error(v.path, err.msg);
        goto rollback;
    }
    if (window_scores(&v, tokens, N, scores) != EXIT_OK) goto rollback;
    n_scores = N;
    char attr_text[512];
    describe_attrs(specs, attrs.n, attr_text, sizeof attr_text);
    for (int i = 0; i < N; i++) {
        char text[3 * PATH_MAX], what[256];
        int k = snprintf(text, sizeof text, "cadenza vae sample: model %s (%s), seed %lld, sample %d of %d, temperature %g%s",
                         cdz_model_config_name(v.m), v.path, seed, i + 1, N, temperature, attr_text);
        if (similar && k > 0 && (size_t)k < sizeof text)
            snprintf(text + k, sizeof text - (size_t)k, ", similar to %s by %g", similar, amount);
        if (app_write_score(&scores[i], plan.path[i], text) != EXIT_OK) goto rollback;
        plan.done[i] = 1;
        describe_window(&v, tokens + (size_t)i * L, &scores[i], what, sizeof what);
        printf("wrote %s (%s)\n", plan.path[i], what);
        if (plot) {
            char title[1][96];
            snprintf(title[0], sizeof title[0], "%s", base_name(plan.path[i]));
            int prc = write_roll(plan.path[png_of[i]], &scores[i], title, 1);
            if (prc == EXIT_FAIL) goto rollback;
            plan.done[png_of[i]] = prc == EXIT_OK;
        }
    }
    for (int i = 0; wav && i < N; i++) { /* a failed render leaves the file as it was (written whole, then renamed) */
        if (app_wav_beside(plan.path[i]) != EXIT_OK) goto rollback;
        plan.done[wav_of[i]] = 1;
    }
    fprintf(stderr, "%d window%s in %.2f s\n", N, N == 1 ? "" : "s", app_now() - t0);
    rc = EXIT_OK;
    goto done;
rollback:
    plan_rollback(&plan);
done:
    for (int i = 0; i < n_scores; i++) cdz_score_free(&scores[i]);
    free(scores);
    free(wav_of);
    free(png_of);
    free(tokens);
    free(acc);
    free(z);
    plan_free(&plan);
    if (v.m) cdz_model_free(v.m);
    free(specs);
    app_list_free(&attrs);
    return rc;
}

/* ---- cadenza vae interpolate ---- */

static int cmd_interpolate(int argc, char **argv) {
    const char *a_path = NULL, *b_path = NULL, *model = NULL, *out_dir = "generated";
    long long steps = 11, seed = 1;
    float temperature = 0;
    int wav = 0, plot = 0, force = 0;
    app_list attrs = {0};
    app_opt opts[] = {
        APP_ARG("A.mid", &a_path, "where to start: its first window"),
        APP_ARG("B.mid", &b_path, "where to end: its first window"),
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL),
        APP_OPT_LONG("--steps", &steps, 2, 1000, "N",
                     "windows from A to B, both ends included (the ends are A and B reconstructed;\ndefault 11)"),
        APP_OPT_FLOAT("--temperature", &temperature, 0, 100, "X", "each token drawn at X (default 0: the most likely)"),
        APP_OPT_LONG("--seed", &seed, 0, LLONG_MAX, "N", "random seed of the decoding at a temperature above 0 (default 1)"),
        APP_OPT_LIST("--attribute", &attrs, "SPEC", ATTRIBUTE_HELP),
        APP_OPT_STRING("--out-dir", &out_dir, "DIR",
                       "where to write (default generated/): interp_00.mid ... one per step, and\n"
                       "interpolation.mid, every step one after another"),
        APP_OPT_SWITCH("--wav", &wav, "also render each MIDI file to FILE.wav beside it (FluidSynth)"),
        APP_OPT_SWITCH("--plot", &plot, "also draw interpolation.png: the steps' piano rolls, top to bottom"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"vae interpolate", "A.mid B.mid --model M [--steps N] [--out-dir DIR] [options]",
                         "Walks the latent space from A to B: the first window of each file is encoded (its mean, mu),\n"
                         "and the steps between them are spherical interpolations (Magenta's slerp), each decoded.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    attr_spec *specs = NULL;
    if (!a_path || !b_path) rc = app_usage(&cmd, "two MIDI files are needed: A.mid B.mid");
    else if (!model) rc = app_usage(&cmd, "--model M is required");
    else if (!*out_dir) rc = app_usage(&cmd, "--out-dir is empty: name a folder");
    if (rc != APP_GO_ON || !parse_attr_specs(&cmd, &attrs, &specs, &rc)) {
        app_list_free(&attrs);
        return rc;
    }
    vae_model v = {0};
    out_plan plan = {0};
    float *z = NULL, *acc = NULL, *za = NULL, *zb = NULL;
    uint16_t *tokens = NULL;
    cdz_score *scores = NULL, all = {0};
    int n_scores = 0, have_all = 0;
    char (*titles)[96] = NULL;
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v) || load_model(&v) != EXIT_OK) goto done;
    const int N = (int)steps, Z = v.Z, L = v.L;
    z = calloc((size_t)N * (size_t)Z, sizeof *z);
    acc = calloc((size_t)Z, sizeof *acc);
    za = calloc((size_t)Z, sizeof *za);
    zb = calloc((size_t)Z, sizeof *zb);
    tokens = calloc((size_t)N * (size_t)L, sizeof *tokens);
    scores = calloc((size_t)N, sizeof *scores);
    titles = calloc((size_t)N, sizeof *titles);
    if (!z || !acc || !za || !zb || !tokens || !scores || !titles) {
        app_error("out of memory");
        goto done;
    }
    if (sum_attributes(&v, specs, attrs.n, acc) != EXIT_OK) goto done;
    if (first_window_mu(&v, a_path, za) != EXIT_OK || first_window_mu(&v, b_path, zb) != EXIT_OK) goto done;
    if ((wav && !can_render()) || (plot && !can_plot())) goto done;
    /* the names: interp_00 ... wide enough for the last step */
    int width = 2;
    for (long long k = 100; k <= N - 1; k *= 10) width++;
    if (!plan_init(&plan, 2 * (N + 1) + 1)) goto done;
    char path[PATH_MAX], other[PATH_MAX];
    for (int i = 0; i < N; i++) {
        if (!make_path(path, "%s/interp_%0*d.mid", out_dir, width, i)) goto done;
        plan_add(&plan, path);
    }
    if (!make_path(path, "%s/interpolation.mid", out_dir)) goto done;
    const int all_i = plan_add(&plan, path);
    if (wav)
        for (int i = 0; i <= N; i++) app_wav_name(plan.path[i], other, sizeof other), plan_add(&plan, other);
    int png_i = -1;
    if (plot) png_name(plan.path[all_i], other, sizeof other), png_i = plan_add(&plan, other);
    if (!plan_check(&plan, out_dir, force)) goto done;

    cdz_error err = {0};
    for (int i = 0; i < N; i++) {
        float *zi = z + (size_t)i * Z;
        cdz_vae_slerp(za, zb, Z, (double)i / (N - 1), zi);
        for (int k = 0; k < Z; k++) zi[k] += acc[k];
    }
    if (cdz_vae_decode(v.m, z, N, temperature, (uint64_t)seed, tokens, &err) != CDZ_OK) {
        file_error(v.path, err.msg);
        goto rollback;
    }
    if (window_scores(&v, tokens, N, scores) != EXIT_OK) goto rollback;
    n_scores = N;
    if (cdz_vae_to_score(v.m, tokens, N, &all, &err) != CDZ_OK) {
        app_error("%s: %s", v.path, err.msg);
        goto rollback;
    }
    have_all = 1;
    char attr_text[512], text[3 * PATH_MAX + 600], what[256];
    describe_attrs(specs, attrs.n, attr_text, sizeof attr_text);
    for (int i = 0; i < N; i++) {
        double t = (double)i / (N - 1);
        snprintf(text, sizeof text,
                 "cadenza vae interpolate: model %s (%s), from %s to %s, step %d of %d (t %.4g), temperature %g, seed %lld%s",
                 cdz_model_config_name(v.m), v.path, a_path, b_path, i, N - 1, t, temperature, seed, attr_text);
        if (app_write_score(&scores[i], plan.path[i], text) != EXIT_OK) goto rollback;
        plan.done[i] = 1;
        describe_window(&v, tokens + (size_t)i * L, &scores[i], what, sizeof what);
        printf("wrote %s (t %.2f%s: %s)\n", plan.path[i], t, i == 0 ? ", A reconstructed" : i == N - 1 ? ", B reconstructed" : "",
               what);
        snprintf(titles[i], sizeof titles[i], "%s  t %.2f%s", base_name(plan.path[i]), t,
                 i == 0 ? "  (A)" : i == N - 1 ? "  (B)" : "");
    }
    snprintf(text, sizeof text,
             "cadenza vae interpolate: model %s (%s), from %s to %s, %d steps one after another, temperature %g, seed %lld%s",
             cdz_model_config_name(v.m), v.path, a_path, b_path, N, temperature, seed, attr_text);
    if (app_write_score(&all, plan.path[all_i], text) != EXIT_OK) goto rollback;
    plan.done[all_i] = 1;
    printf("wrote %s (the %d steps one after another, %d bars, %.1f s)\n", plan.path[all_i], N, N * v.bars, all.duration_s);
    if (plot) {
        int prc = write_roll(plan.path[png_i], scores, titles, N);
        if (prc == EXIT_FAIL) goto rollback;
        plan.done[png_i] = prc == EXIT_OK;
    }
    for (int i = 0; wav && i <= N; i++) {
        if (app_wav_beside(plan.path[i]) != EXIT_OK) goto rollback;
        plan.done[all_i + 1 + i] = 1;
    }
    rc = EXIT_OK;
    goto done;
rollback:
    plan_rollback(&plan);
done:
    for (int i = 0; i < n_scores; i++) cdz_score_free(&scores[i]);
    if (have_all) cdz_score_free(&all);
    free(scores);
    free(titles);
    free(tokens);
    free(za);
    free(zb);
    free(acc);
    free(z);
    plan_free(&plan);
    if (v.m) cdz_model_free(v.m);
    free(specs);
    app_list_free(&attrs);
    return rc;
}

/* ---- cadenza vae reconstruct ---- */

static int cmd_reconstruct(int argc, char **argv) {
    const char *in = NULL, *model = NULL, *out = NULL;
    long long seed = 1;
    float temperature = 0;
    int all_windows = 0, force = 0;
    app_opt opts[] = {
        APP_ARG("IN.mid", &in, "the MIDI file to reconstruct"),
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL),
        APP_OPT_STRING("--out", &out, "FILE.mid", "the file to write (default generated/IN_recon.mid)"),
        APP_OPT_SWITCH("--all-windows", &all_windows, "every window of IN.mid, one after another (default: the first)"),
        APP_OPT_FLOAT("--temperature", &temperature, 0, 100, "X", "each token drawn at X (default 0: the most likely)"),
        APP_OPT_LONG("--seed", &seed, 0, LLONG_MAX, "N", "random seed of the decoding at a temperature above 0 (default 1)"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"vae reconstruct", "IN.mid --model M [--out FILE.mid] [--all-windows] [options]",
                         "Encodes windows of IN.mid, decodes their means (mu) and writes the result; prints, per window,\n"
                         "the share of tokens the reconstruction has as the input has them.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!in) return app_usage(&cmd, "an input MIDI file is required");
    if (!model) return app_usage(&cmd, "--model M is required");
    if (out && !*out) return app_usage(&cmd, "--out is empty: name the MIDI file to write");
    vae_model v = {0};
    out_plan plan = {0};
    cdz_tokens w = {0};
    float *mu = NULL;
    uint16_t *rec = NULL;
    cdz_score s = {0};
    int have_s = 0;
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v) || load_model(&v) != EXIT_OK) goto done;
    if (read_windows(&v, in, &w) != EXIT_OK) goto done;
    const int n = all_windows ? (int)w.n_seqs : 1, Z = v.Z, L = v.L;
    char path[PATH_MAX], stem[PATH_MAX];
    snprintf(stem, sizeof stem, "%s", base_name(in));
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    if (out ? !make_path(path, "%s", out) : !make_path(path, "generated/%s_recon.mid", stem)) goto done;
    if (!plan_init(&plan, 1)) goto done;
    plan_add(&plan, path);
    if (!plan_check(&plan, out ? NULL : "generated", force)) goto done;
    mu = calloc((size_t)n * (size_t)Z, sizeof *mu);
    rec = calloc((size_t)n * (size_t)L, sizeof *rec);
    if (!mu || !rec) {
        app_error("out of memory");
        goto rollback;
    }
    cdz_error err = {0};
    if (cdz_vae_encode(v.m, w.tokens, n, mu, NULL, &err) != CDZ_OK) {
        file_error(in, err.msg);
        goto rollback;
    }
    if (cdz_vae_decode(v.m, mu, n, temperature, (uint64_t)seed, rec, &err) != CDZ_OK ||
        cdz_vae_to_score(v.m, rec, n, &s, &err) != CDZ_OK) {
        file_error(v.path, err.msg);
        goto rollback;
    }
    have_s = 1;
    char text[3 * PATH_MAX];
    snprintf(text, sizeof text, "cadenza vae reconstruct: model %s (%s), %s, %s (%d), temperature %g, seed %lld",
             cdz_model_config_name(v.m), v.path, in, all_windows ? "every window" : "the first window", n, temperature, seed);
    if (app_write_score(&s, path, text) != EXIT_OK) goto rollback;
    plan.done[0] = 1;
    size_t same_all = 0;
    for (int i = 0; i < n; i++) {
        size_t same = 0;
        for (int k = 0; k < L; k++) same += rec[(size_t)i * L + k] == w.tokens[(size_t)i * L + k];
        same_all += same;
        printf("window %d: %zu of %d tokens as in %s (%.1f%%)\n", i, same, L, in, 100.0 * (double)same / L);
    }
    printf("wrote %s (%d window%s of %d bars, %.1f s; token accuracy %.1f%%)\n", path, n, n == 1 ? "" : "s", v.bars,
           s.duration_s, 100.0 * (double)same_all / ((double)n * L));
    if (!all_windows && w.n_seqs > 1)
        fprintf(stderr, "note: %s has %zu windows; --all-windows reconstructs every one\n", in, w.n_seqs);
    rc = EXIT_OK;
    goto done;
rollback:
    plan_rollback(&plan);
done:
    if (have_s) cdz_score_free(&s);
    free(mu);
    free(rec);
    cdz_tokens_free(&w);
    plan_free(&plan);
    if (v.m) cdz_model_free(v.m);
    return rc;
}

/* ---- cadenza vae encode ---- */

static void print_floats(const char *label, const float *x, int n) {
    printf("  %-6s", label);
    for (int k = 0; k < n; k++) printf(" %8.4f", x[k]);
    putchar('\n');
}

static void json_floats(const float *x, int n) {
    putchar('[');
    for (int k = 0; k < n; k++) {
        if (k) putchar(',');
        json_number(stdout, x[k]);
    }
    putchar(']');
}

static int cmd_encode(int argc, char **argv) {
    const char *in = NULL, *model = NULL;
    int json = 0;
    app_opt opts[] = {
        APP_ARG("IN.mid", &in, "the MIDI file to encode"),
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"vae encode", "IN.mid --model M [--json]",
                         "Prints the posterior of every window of IN.mid: its mean mu and standard deviation sigma.\n"
                         "--json: {\"model\": CHECKPOINT FILE, \"file\": IN.mid, \"latent_dim\": Z, \"windows\": [{\"index\": 0,\n"
                         "\"mu\": [...], \"sigma\": [...]}, ...]}.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!in) return app_usage(&cmd, "an input MIDI file is required");
    if (!model) return app_usage(&cmd, "--model M is required");
    vae_model v = {0};
    cdz_tokens w = {0};
    float *mu = NULL, *sigma = NULL;
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v) || load_model(&v) != EXIT_OK) goto done;
    if (read_windows(&v, in, &w) != EXIT_OK) goto done;
    const int n = (int)w.n_seqs, Z = v.Z;
    mu = calloc((size_t)n * (size_t)Z, sizeof *mu);
    sigma = calloc((size_t)n * (size_t)Z, sizeof *sigma);
    if (!mu || !sigma) {
        app_error("out of memory");
        goto done;
    }
    cdz_error err = {0};
    if (cdz_vae_encode(v.m, w.tokens, n, mu, sigma, &err) != CDZ_OK) {
        file_error(in, err.msg);
        goto done;
    }
    if (json) {
        fputs("{\"model\":", stdout);
        json_string(stdout, base_name(v.path));
        fputs(",\"file\":", stdout);
        json_string(stdout, in);
        printf(",\"latent_dim\":%d,\"windows\":[", Z);
        for (int i = 0; i < n; i++) {
            printf("%s{\"index\":%d,\"mu\":", i ? "," : "", i);
            json_floats(mu + (size_t)i * Z, Z);
            fputs(",\"sigma\":", stdout);
            json_floats(sigma + (size_t)i * Z, Z);
            putchar('}');
        }
        puts("]}");
    } else {
        printf("%s: %d window%s of %d bars; latent size %d (model %s)\n", in, n, n == 1 ? "" : "s", v.bars, Z, v.path);
        for (int i = 0; i < n; i++) {
            printf("window %d\n", i);
            print_floats("mu", mu + (size_t)i * Z, Z);
            print_floats("sigma", sigma + (size_t)i * Z, Z);
        }
    }
    rc = EXIT_OK;
done:
    free(mu);
    free(sigma);
    cdz_tokens_free(&w);
    if (v.m) cdz_model_free(v.m);
    return rc;
}

/* ---- cadenza vae attribute ---- */

static int parse_feature(const char *value, void *dest, char *why, size_t n) {
    cdz_error err = {0};
    if (cdz_vae_feature_parse(value, dest, &err) == CDZ_OK) return 1;
    snprintf(why, n, "%s", err.msg);
    return 0;
}

/* A float for a file that must read back as the same float. */
static void json_float_exact(FILE *f, float x) {
    if (isfinite(x)) fprintf(f, "%.9g", (double)x);
    else fputs("null", f);
}

static int cmd_attribute(int argc, char **argv) {
    const char *model = NULL, *in = NULL, *out = NULL;
    cdz_vae_feature feature = CDZ_VAE_DENSITY;
    int force = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL),
        APP_OPT_CUSTOM("--name", parse_feature, &feature, "NAME",
                       "the feature: density (onsets per bar), range (semitones), syncopation (onsets\n"
                       "off the 8th-note grid), in_key (notes in the main key) (required)"),
        APP_OPT_STRING("--in", &in, "DIR", "a folder of MIDI files (walked for .mid, .midi, .kar, .rmi) or one file\n(required)"),
        APP_OPT_STRING("--out", &out, "FILE.json", "the vector's file (default MODEL.NAME.json beside the model, where\n"
                                                   "--attribute NAME finds it)"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"vae attribute", "--model M --name NAME --in DIR [--out FILE.json]",
                         "An attribute vector (MusicVAE's attribute arithmetic): every window of the MIDI files under\n"
                         "DIR is encoded; the mean mu of the quarter with the most of the feature minus that of the\n"
                         "quarter with the least (at least 8 windows). Written as JSON: {\"model\", \"attribute\",\n"
                         "\"latent_dim\", \"windows\", \"top_mean\", \"bottom_mean\", \"vector\"}; 'vae sample' and\n"
                         "'vae interpolate' add it with --attribute NAME:AMOUNT.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!model || !in || !app_opt_seen(opts, "--name")) return app_usage(&cmd, "--model, --name and --in are required");
    if (out && !*out) return app_usage(&cmd, "--out is empty: name the JSON file to write");
    vae_model v = {0};
    char **paths = NULL, *json = NULL;
    size_t n_paths = 0, json_len = 0;
    cdz_tokens all = {0};
    float *vec = NULL;
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v)) goto done;
    char path[PATH_MAX], stem[PATH_MAX];
    strip_safetensors(v.path, 1, stem, sizeof stem);
    if (out ? !make_path(path, "%s", out) : !make_path(path, "%s.%s.json", stem, cdz_vae_feature_name(feature))) goto done;
    if (!app_output_ok(path, force) || !app_folder_writable(path)) goto done;
    if (load_model(&v) != EXIT_OK) goto done;
    cdz_error err = {0};
    if (cdz_file_list(in, ".mid,.midi,.kar,.rmi", &paths, &n_paths, &err) != CDZ_OK) {
        file_error(in, err.msg);
        goto done;
    }
    if (n_paths == 0) {
        app_error("%s: no MIDI files (.mid, .midi, .kar, .rmi) in it", in);
        goto done;
    }
    size_t unreadable = 0, no_window = 0, used = 0;
    char first_problem[sizeof err.msg + PATH_MAX] = "";
    const int L = v.L;
    for (size_t f = 0; f < n_paths; f++) {
        cdz_score s;
        cdz_tokens w = {0};
        cdz_status st = cdz_score_read_file(&s, paths[f], &err);
        if (st != CDZ_OK) unreadable++;
        else {
            st = cdz_vae_windows(v.m, &s, &w, &err);
            cdz_score_free(&s);
            if (st == CDZ_ERR_NOMEM) {
                app_error("out of memory");
                cdz_tokens_free(&w);
                goto done;
            }
            if (st != CDZ_OK || w.n_seqs == 0) no_window++;
        }
        if (st != CDZ_OK && !first_problem[0]) {
            if (strncmp(err.msg, paths[f], strlen(paths[f])) == 0) snprintf(first_problem, sizeof first_problem, "%s", err.msg);
            else snprintf(first_problem, sizeof first_problem, "%s: %s", paths[f], err.msg);
        }
        for (size_t i = 0; st == CDZ_OK && i < w.n_seqs; i++)
            if (w.offsets[i + 1] - w.offsets[i] == (size_t)L &&
                cdz_tokens_append(&all, w.tokens + w.offsets[i], (size_t)L) != CDZ_OK) {
                app_error("out of memory");
                cdz_tokens_free(&w);
                goto done;
            }
        used += st == CDZ_OK && w.n_seqs > 0;
        cdz_tokens_free(&w);
    }
    char skipped[sizeof first_problem + 200] = "";
    if (unreadable || no_window)
        snprintf(skipped, sizeof skipped, "; skipped %zu unreadable and %zu without a window (the first: %s)", unreadable,
                 no_window, first_problem);
    if (all.n_seqs == 0) {
        app_error("%s: no window for this model in %s %zu MIDI file%s (%zu unreadable); the first problem: %s", in,
                  n_paths == 1 ? "its" : "any of its", n_paths, n_paths == 1 ? "" : "s", unreadable, first_problem);
        goto done;
    }
    const int Z = v.Z, n = (int)(all.n_seqs < INT_MAX ? all.n_seqs : INT_MAX);
    double top = 0, bottom = 0;
    vec = calloc((size_t)Z, sizeof *vec);
    if (!vec) {
        app_error("out of memory");
        goto done;
    }
    if (cdz_vae_attribute_vector(v.m, feature, all.tokens, n, vec, &top, &bottom, &err) != CDZ_OK) {
        app_error("%s: %s", in, err.msg);
        goto done;
    }
    FILE *mf = open_memstream(&json, &json_len);
    if (!mf) {
        app_error("out of memory");
        goto done;
    }
    double norm = 0;
    for (int k = 0; k < Z; k++) norm += (double)vec[k] * vec[k];
    fputs("{\"model\": ", mf);
    json_string(mf, base_name(v.path));
    fputs(", \"attribute\": ", mf);
    json_string(mf, cdz_vae_feature_name(feature));
    fprintf(mf, ", \"latent_dim\": %d, \"windows\": %d, \"top_mean\": ", Z, n);
    json_number(mf, top);
    fputs(", \"bottom_mean\": ", mf);
    json_number(mf, bottom);
    fputs(", \"vector\": [", mf);
    for (int k = 0; k < Z; k++) {
        if (k) fputs(", ", mf);
        json_float_exact(mf, vec[k]);
    }
    fputs("]}\n", mf);
    if (fclose(mf) != 0 || !json) {
        app_error("out of memory");
        goto done;
    }
    if (cdz_file_write_atomic(path, json, json_len, &err) != CDZ_OK) {
        file_error(path, err.msg);
        goto done;
    }
    printf("wrote %s: the %s vector of %s from %d windows of %zu file%s (mean %s %.3g in the top quarter, %.3g in the "
           "bottom; length %.3g)\n", path, cdz_vae_feature_name(feature), base_name(v.path), n, used, used == 1 ? "" : "s",
           cdz_vae_feature_name(feature), top, bottom, sqrt(norm));
    if (skipped[0]) fprintf(stderr, "note: %s: %s\n", in, skipped + 2);
    /* a vector between two quarters that do not differ is noise: say so, rather than let it pass as a direction */
    if (top == bottom)
        fprintf(stderr, "cadenza: warning: every window has the same %s in both quarters (%.3g): the vector measures no "
                "difference; use music that varies in it\n", cdz_vae_feature_name(feature), top);
    rc = EXIT_OK;
done:
    free(json);
    free(vec);
    cdz_tokens_free(&all);
    if (paths) cdz_file_list_free(paths, n_paths);
    if (v.m) cdz_model_free(v.m);
    return rc;
}

/* ---- cadenza vae evaluate ---- */

static int parse_vae_split(const char *s, void *dest, char *why, size_t n) {
    cdz_split *out = dest;
    if (strcmp(s, "train") == 0) *out = CDZ_SPLIT_TRAIN;
    else if (strcmp(s, "eval") == 0) *out = CDZ_SPLIT_EVAL;
    else if (strcmp(s, "test") == 0) *out = CDZ_SPLIT_TEST;
    else {
        snprintf(why, n, "train, eval or test");
        return 0;
    }
    return 1;
}

static void json_side(const char *name, const cdz_vae_interp_side *s) {
    char k[32], d[32];
    snprintf(k, sizeof k, isnan(s->tau_in_key) ? "null" : "%.4f", s->tau_in_key);
    snprintf(d, sizeof d, isnan(s->tau_density) ? "null" : "%.4f", s->tau_density);
    printf("\"%s\":{\"valid\":%.4f,\"tau_in_key\":%s,\"pairs_in_key\":%d,\"tau_density\":%s,\"pairs_density\":%d,"
           "\"hamming\":%.3f,\"hamming_max\":%.3f}",
           name, s->valid, k, s->pairs_in_key, d, s->pairs_density, s->hamming, s->hamming_max);
}

/* Writes the first n windows of the split, each as DIR/window_NNNN.mid and its greedy reconstruction from mu
 * as DIR/window_NNNN_recon.mid: EXIT_OK, or EXIT_FAIL having said why (what was written is removed). */
static int write_windows(const vae_model *v, const cdz_dataset *ds, cdz_split split, int n, const char *dir, int force) {
    out_plan plan;
    uint16_t *orig = NULL, *rec = NULL;
    float *mu = NULL;
    int rc = EXIT_FAIL, have = 0;
    if (!plan_init(&plan, 2 * n)) return EXIT_FAIL;
    orig = calloc((size_t)n * (size_t)v->L, sizeof *orig);
    rec = calloc((size_t)n * (size_t)v->L, sizeof *rec);
    mu = calloc((size_t)n * (size_t)v->Z, sizeof *mu);
    if (!orig || !rec || !mu) {
        app_error("out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < ds->n_seqs && have < n; i++)
        if (ds->splits[i] == split && cdz_dataset_seq_len(ds, i) == (uint64_t)v->L)
            memcpy(orig + (size_t)have++ * v->L, ds->tokens + ds->offsets[i], (size_t)v->L * sizeof *orig);
    char path[PATH_MAX];
    for (int i = 0; i < have; i++) {
        if (!make_path(path, "%s/window_%04d.mid", dir, i)) goto done;
        plan_add(&plan, path);
        if (!make_path(path, "%s/window_%04d_recon.mid", dir, i)) goto done;
        plan_add(&plan, path);
    }
    if (!plan_check(&plan, dir, force)) goto done;
    cdz_error err = {0};
    if (cdz_vae_encode(v->m, orig, have, mu, NULL, &err) != CDZ_OK || cdz_vae_decode(v->m, mu, have, 0, 0, rec, &err) != CDZ_OK) {
        file_error(v->path, err.msg);
        goto rollback;
    }
    for (int i = 0; i < 2 * have; i++) {
        cdz_score sc;
        const uint16_t *tok = (i % 2 ? rec : orig) + (size_t)(i / 2) * v->L;
        if (cdz_vae_to_score(v->m, tok, 1, &sc, &err) != CDZ_OK) {
            file_error(v->path, err.msg);
            goto rollback;
        }
        char text[128];
        snprintf(text, sizeof text, "cadenza vae evaluate: held-out window %d%s", i / 2, i % 2 ? ", reconstructed from its mu" : "");
        make_path(path, i % 2 ? "%s/window_%04d_recon.mid" : "%s/window_%04d.mid", dir, i / 2);
        int w = app_write_score(&sc, path, text);
        cdz_score_free(&sc);
        if (w != EXIT_OK) goto rollback;
        plan.done[i] = 1;
    }
    printf("wrote %d held-out windows and their reconstructions to %s/\n", have, dir);
    rc = EXIT_OK;
    goto done;
rollback:
    plan_rollback(&plan);
done:
    free(orig), free(rec), free(mu);
    plan_free(&plan);
    return rc;
}

static int cmd_evaluate(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out_dir = NULL;
    cdz_split split = CDZ_SPLIT_EVAL;
    long long windows = 0, pairs = 50, steps = 11, seed = 1, write = 0;
    int json = 0, force = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--model", &model, "M", MODEL_HELP),
        APP_OPT_STRING("--checkpoint", &model, "FILE", NULL),
        APP_OPT_STRING("--data", &data, "FILE.cdz", "a dataset of the model's codec ('cadenza dataset build') (required)"),
        APP_OPT_CUSTOM("--split", parse_vae_split, &split, "SPLIT", "eval (default), train or test"),
        APP_OPT_LONG("--windows", &windows, 0, 1 << 30, "N", "reconstruct at most the first N windows (default 0: all)"),
        APP_OPT_LONG("--pairs", &pairs, 0, 100000, "N", "interpolations between N pairs of windows (default 50; 0: none)"),
        APP_OPT_LONG("--steps", &steps, 2, 64, "N", "steps of each interpolation, ends included (default 11)"),
        APP_OPT_LONG("--seed", &seed, 0, LLONG_MAX, "N", "which pairs (default 1)"),
        APP_OPT_LONG("--write", &write, 0, 100000, "N", "also write the first N windows and their reconstructions as MIDI\n"
                                                        "to --out-dir, to listen to"),
        APP_OPT_STRING("--out-dir", &out_dir, "DIR", "where --write puts them (required with --write)"),
        APP_OPT_FORCE(&force),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"vae evaluate", "--model M --data FILE.cdz [--split eval] [--pairs N]",
                         "Measures a MusicVAE on held-out windows (docs/music_vae.md): reconstruction accuracy from each\n"
                         "window's posterior mean, teacher-forced and sampled (the decoder on its own most likely tokens),\n"
                         "the mean KL; then interpolations between pairs of windows in latent space and, as the baseline,\n"
                         "in data space: the share of valid melodies, how steadily the in-key ratio and note density move\n"
                         "from one end to the other (Kendall tau, 1: steadily), and the Hamming distance between steps.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!model) return app_usage(&cmd, "--model M is required");
    if (!data) return app_usage(&cmd, "--data FILE.cdz is required");
    if (write > 0 && !out_dir) return app_usage(&cmd, "--write N needs --out-dir DIR");
    vae_model v = {0};
    cdz_dataset ds;
    memset(&ds, 0, sizeof ds);
    cdz_error err = {0};
    rc = EXIT_FAIL;
    if (!resolve_model(model, &v) || load_model(&v) != EXIT_OK) goto done;
    if (cdz_dataset_open(&ds, data, &err) != CDZ_OK) {
        file_error(data, err.msg);
        goto done;
    }
    cdz_vae_eval ev;
    if (cdz_vae_evaluate(v.m, &ds, split, (int)windows, &ev, &err) != CDZ_OK) {
        file_error(data, err.msg);
        goto done;
    }
    cdz_vae_interp_report ir;
    memset(&ir, 0, sizeof ir);
    if (pairs > 0 && cdz_vae_interpolation_study(v.m, &ds, split, (int)pairs, (int)steps, (uint64_t)seed, &ir, &err) != CDZ_OK) {
        file_error(data, err.msg);
        goto done;
    }
    if (json) {
        fputs("{\"model\":", stdout);
        json_string(stdout, base_name(v.path));
        fputs(",\"data\":", stdout);
        json_string(stdout, data);
        printf(",\"split\":\"%s\",\"windows\":%lld,\"tokens\":%lld,\"tf_accuracy\":%.4f,\"sampled_accuracy\":%.4f,"
               "\"recon_nats\":%.4f,\"kl_nats\":%.3f",
               cdz_split_name(split), (long long)ev.windows, (long long)ev.tokens, ev.tf_accuracy, ev.sampled_accuracy, ev.recon_nats,
               ev.kl_nats);
        if (pairs > 0) {
            printf(",\"interpolation\":{\"pairs\":%d,\"steps\":%d,", ir.pairs, ir.steps);
            json_side("latent", &ir.latent);
            putchar(',');
            json_side("data", &ir.naive);
            putchar('}');
        }
        puts("}");
    } else {
        printf("%s on %s (%s split): %lld windows of %d bars\n", v.path, data, cdz_split_name(split), (long long)ev.windows, v.bars);
        printf("  reconstruction from mu: teacher-forced accuracy %.4f, sampled accuracy %.4f\n", ev.tf_accuracy,
               ev.sampled_accuracy);
        printf("  teacher-forced loss %.4f nats/token; KL %.2f nats (%.1f bits) per window\n", ev.recon_nats, ev.kl_nats,
               ev.kl_nats / log(2.0));
        if (pairs > 0) {
            printf("  interpolation, %d pairs x %d steps:   latent    data space\n", ir.pairs, ir.steps);
            printf("    valid melodies                       %.3f     %.3f\n", ir.latent.valid, ir.naive.valid);
            printf("    in-key ratio, Kendall tau to B       %.3f     %.3f  (pairs whose ends differ: %d, %d)\n", ir.latent.tau_in_key,
                   ir.naive.tau_in_key, ir.latent.pairs_in_key, ir.naive.pairs_in_key);
            printf("    note density, Kendall tau to B       %.3f     %.3f  (pairs whose ends differ: %d, %d)\n", ir.latent.tau_density,
                   ir.naive.tau_density, ir.latent.pairs_density, ir.naive.pairs_density);
            printf("    Hamming distance between steps       %.2f     %.2f  (largest per pair: %.2f, %.2f)\n", ir.latent.hamming,
                   ir.naive.hamming, ir.latent.hamming_max, ir.naive.hamming_max);
        }
    }
    rc = write > 0 ? write_windows(&v, &ds, split, (int)write, out_dir, force) : EXIT_OK;
done:
    if (ds.map) cdz_dataset_close(&ds);
    if (v.m) cdz_model_free(v.m);
    return rc;
}

int cmd_vae(int argc, char **argv) {
    static const app_sub subs[] = {
        {"sample", cmd_sample, "--model M [--n N]: new windows from random latents (--similar A.mid: near a\npiece)"},
        {"interpolate", cmd_interpolate, "A.mid B.mid --model M [--steps N]: the way between two pieces"},
        {"reconstruct", cmd_reconstruct, "IN.mid --model M: encode and decode a piece, with the token accuracy"},
        {"encode", cmd_encode, "IN.mid --model M [--json]: the latent mean and deviation of every window"},
        {"attribute", cmd_attribute, "--model M --name NAME --in DIR: an attribute vector from a folder of MIDI"},
        {"evaluate", cmd_evaluate, "--model M --data FILE.cdz: reconstruction accuracy and interpolation measures"},
    };
    return app_dispatch("vae", VAE_OVERVIEW, subs, sizeof subs / sizeof *subs, NULL, argc, argv);
}
