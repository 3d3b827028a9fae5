/* cadenza generate: music from a trained model (by default the one shipped in models/), continuing a
 * MIDI file or a pitch list, or from scratch. The library's generator (cadenza/generate.h) does the
 * work; this file reads the flags, the primer and the model, and writes and reports the files. Output
 * files are named after the checkpoint and record the model, seed and settings in a text event. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

/* "60,-2,62,-2,64": Magenta's melody notation, one step each (a pitch, -2 to hold, -1 for a note-off). */
static int parse_pitches(const char *s, int16_t *ev, size_t cap, size_t *n) {
    *n = 0;
    while (*s) {
        while (*s == ' ' || *s == '[' || *s == ']' || *s == ',') s++;
        if (!*s) break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < -2 || v > 127 || *n >= cap) return 0;
        ev[(*n)++] = (int16_t)v;
        s = end;
    }
    return *n > 0;
}

/* The primer of --primer-pitches as a one-track score in 4/4 at 120 qpm (the tempo is the output's
 * business: --qpm). */
static cdz_status pitches_score(const char *list, cdz_score *out, cdz_error *err) {
    int16_t ev[4096];
    size_t n = 0;
    if (!parse_pitches(list, ev, sizeof ev / sizeof *ev, &n))
        return cdz_error_set(err, CDZ_ERR_ARG,
                             "--primer-pitches needs up to 4096 numbers from -2 to 127 separated by commas, not '%s'", list);
    cdz_melody m = {ev, n, 4, 16, 120, 0, 0, 0, 0, 4, 4};
    return cdz_melody_to_score(&m, 120, 100, 0, out, err);
}

/* --primer-track: a track number as 'cadenza midi info' lists them, or a track's name (any case). */
static int find_track(const cdz_score *s, const char *spec, int *track) {
    long long k;
    if (app_parse_long(spec, 0, 65535, &k)) {
        *track = (int)k;
        return 1;
    }
    for (size_t t = 0; t < s->n_tracks; t++)
        if (strcasecmp(s->tracks[t].name, spec) == 0) {
            *track = (int)t;
            return 1;
        }
    return 0;
}

typedef struct gen_progress {
    double start, last;
    int tty, open; /* open: a progress line is on the terminal without its newline */
} gen_progress;

static void on_progress(void *ctx, int64_t done, int64_t total) {
    gen_progress *p = ctx;
    double now = app_now();
    if (!p->tty || (now - p->last < 0.1 && done < total)) return;
    p->last = now;
    fprintf(stderr, "\r  generating %lld/%lld  %.0f/s ", (long long)done, (long long)total, done / fmax(now - p->start, 1e-9));
    p->open = done < total;
    if (!p->open) fputc('\n', stderr);
}

/* "runs/folk.safetensors" -> "folk": outputs are named after the checkpoint they came from. */
static void checkpoint_stem(const char *path, char *buf, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, n, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf && strcasecmp(dot, ".safetensors") == 0) *dot = 0;
}

int cmd_generate(int argc, char **argv) {
    const char *ckpt = NULL, *model = NULL, *primer_file = NULL, *pitches = NULL, *primer_track = NULL;
    const char *out_dir = "generated", *out = NULL, *backend = NULL;
    long long steps = 0, bars = 0, tokens = 0, seed = 1, outputs = 1, context = 0;
    double seconds = 0, qpm = 0, primer_bars = 0;
    int wav = 0, force = 0, plot = 0, unconstrained = 0;
    const char *style = NULL, *composer = NULL, *instruments = NULL, *meter = NULL;
    double minutes = 0;
    cdz_sample_params sp = cdz_sample_default_params();
    app_opt opts[] = {
        APP_OPT_STRING("--checkpoint", &ckpt, "FILE", "a model written by 'cadenza train' or 'cadenza export'"),
        APP_OPT_STRING("--model", &model, "NAME",
                       "a shipped model, models/NAME.safetensors ('cadenza models' lists them; default\nattention_rnn)"),
        APP_OPT_STRING("--primer", &primer_file, "FILE.mid", "continue this file (kept at the start of each output)"),
        APP_OPT_STRING("--primer-pitches", &pitches, "LIST",
                       "continue these steps in Magenta's notation: MIDI pitches, -2 to hold, -1 for a\n"
                       "note-off, one per 16th note, e.g. \"60,-2,62,-2,64\" (without a primer: the model's\n"
                       "own start, middle C for melodies)"),
        APP_OPT_STRING("--primer-track", &primer_track, "N|NAME",
                       "only this track of --primer (its number in 'cadenza midi info', or its name)"),
        APP_OPT_DOUBLE("--primer-bars", &primer_bars, 0.01, 1e6, "N", "only the first N bars of --primer"),
        APP_OPT_LONG("--steps", &steps, 1, 1 << 24, "N",
                     "16th-note steps to generate after the primer (melodies, chorales; event models:\n"
                     "tokens); default 128"),
        APP_OPT_LONG("--bars", &bars, 1, 1 << 20, "N", "bars of the primer's meter (4/4 without one)"),
        APP_OPT_DOUBLE("--seconds", &seconds, 0.01, 360000, "X", "seconds of music at the output's tempo"),
        APP_OPT_LONG("--tokens", &tokens, 1, 1 << 24, "N", "the model's tokens"),
        APP_OPT_DOUBLE("--qpm", &qpm, 1, 1000, "X", "tempo of the output (default: the primer's, else 120)"),
        APP_SAMPLING_OPTS(&sp, &seed),
        APP_OPT_LONG("--num-outputs", &outputs, 1, 10000, "N", "how many pieces (default 1)"),
        APP_OPT_INT("--beam-size", &sp.beam_size, 0, 1024, "N",
                    "beam search with N beams (Magenta's melody_rnn_generate; default 0: sampling)"),
        APP_OPT_INT("--branch-factor", &sp.branch_factor, 1, 1024, "N", "copies of each beam per iteration (default 1)"),
        APP_OPT_INT("--steps-per-iteration", &sp.steps_per_iteration, 1, 1 << 20, "N",
                    "tokens between beam selections (default 1)"),
        APP_OPT_STRING("--backend", &backend, "NAME",
                       "where the layers run: cpu (default) or reference (plain loops, slow: a check)"),
        APP_OPT_LONG("--context", &context, 1, 1 << 24, "N",
                     "tokens the model attends to (default: the window it was trained on)"),
        APP_OPT_STRING("--out-dir", &out_dir, "DIR",
                       "where to write (default generated/); names: CHECKPOINT_seedS_N.mid"),
        APP_OPT_STRING("--out", &out, "FILE.mid", "the file to write, for a single output"),
        APP_OPT_SWITCH("--wav", &wav, "also render each output to FILE.wav beside it (FluidSynth; see 'cadenza render')"),
        APP_OPT_STRING("--style", &style, "NAME", "ensemble models: the style (baroque, classical, romantic, ...)"),
        APP_OPT_STRING("--composer", &composer, "NAME", "ensemble models: the composer (bach, mozart, ...)"),
        APP_OPT_STRING("--instruments", &instruments, "LIST",
                       "ensemble models: the instruments, comma-separated (e.g. violin,viola,cello)"),
        APP_OPT_DOUBLE("--minutes", &minutes, 0.01, 6000, "X", "ensemble models: minutes of music"),
        APP_OPT_STRING("--meter", &meter, "N/D", "ensemble models: the time signature (default: the model's choice)"),
        APP_OPT_SWITCH("--unconstrained", &unconstrained,
                       "ensemble models: do not keep notes to the instruments and their playing ranges"),
        APP_OPT_SWITCH("--plot", &plot, "ensemble models: also draw each output's piano roll to FILE.png"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {
        "generate", "[--model NAME | --checkpoint FILE] [--primer FILE.mid | --primer-pitches LIST] [options]",
        "New music from a model, continuing a primer or from the model's own start.", opts,
        "Lengths: one of --steps, --bars, --seconds, --tokens. Any model takes any of them: a melody model\n"
        "reads --seconds at the output's tempo, a performance model reads --bars in the primer's meter, a\n"
        "remi model counts bars (--seconds: that many bars at the primer's tempo).\n"
        "Past the model's context, relative-attention and recurrent models slide on; the others start\n"
        "each new part from the last half of what they wrote, and say so.",
        NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    int lengths = (steps > 0) + (bars > 0) + (seconds > 0) + (tokens > 0);
    if (lengths > 1) return app_usage(&cmd, "give one length: --steps, --bars, --seconds or --tokens");
    if (out && outputs > 1) return app_usage(&cmd, "--out names one file: use --out-dir with --num-outputs");
    if (ckpt && model) return app_usage(&cmd, "give --checkpoint or --model, not both");
    if (primer_file && pitches) return app_usage(&cmd, "give --primer or --primer-pitches, not both");
    if ((primer_track || primer_bars > 0) && !primer_file)
        return app_usage(&cmd, "--primer-track and --primer-bars choose from --primer FILE.mid");
    if (sp.beam_size == 0 && (app_opt_seen(opts, "--branch-factor") || app_opt_seen(opts, "--steps-per-iteration")))
        return app_usage(&cmd, "--branch-factor and --steps-per-iteration go with --beam-size");
    if (out && wav && strlen(out) < 4) return app_usage(&cmd, "--out names a .mid file");

    char found[PATH_MAX];
    if (!ckpt) {
        if (!app_find_model(model ? model : "attention_rnn", found, sizeof found)) return EXIT_FAIL;
        ckpt = found;
    }
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(ckpt, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (app_model_sampling(ckpt, opts, &sp) != EXIT_OK) {
        cdz_model_free(m);
        return EXIT_FAIL;
    }
    if (backend && app_set_backend(m, backend) != EXIT_OK) {
        cdz_model_free(m);
        return EXIT_FAIL;
    }
    const cdz_codec *codec = cdz_codec_find(cdz_model_codec(m));
    int ensemble = strcmp(cdz_model_codec(m), "ensemble") == 0;
    if (!ensemble && (style || composer || instruments || minutes > 0 || meter || unconstrained || plot)) {
        app_error("%s: --style, --composer, --instruments, --minutes, --meter, --unconstrained and --plot are for ensemble "
                  "models (this one reads %s tokens)", ckpt, cdz_model_codec(m));
        cdz_model_free(m);
        return EXIT_USAGE;
    }
    if (ensemble) {
        if (primer_file || pitches || steps || bars || tokens) {
            app_error("%s: an ensemble model takes --minutes or --seconds (no primer, steps, bars or tokens; to continue or "
                      "complete a piece use 'cadenza infill')", ckpt);
            cdz_model_free(m);
            return EXIT_USAGE;
        }
        app_ens_opts eo = {style, composer, instruments, meter, minutes, seconds, qpm, unconstrained, wav, plot, force,
                           sp, seed, outputs, context, out, out_dir};
        rc = app_ensemble_generate(m, ckpt, &eo);
        cdz_model_free(m);
        return rc;
    }
    if (strcmp(cdz_model_kind_name(m), "accompaniment") == 0) {
        app_error("%s: an accompaniment model writes a part for a melody: use 'cadenza accompany --melody FILE.mid'", ckpt);
        cdz_model_free(m);
        return EXIT_FAIL;
    }
    /* every output's name, checked before any work: nothing is replaced without --force */
    char stem[256], (*paths)[PATH_MAX] = calloc((size_t)outputs, sizeof *paths);
    checkpoint_stem(ckpt, stem, sizeof stem);
    rc = paths ? EXIT_OK : EXIT_FAIL;
    if (!paths) app_error("out of memory");
    for (long long o = 0; o < outputs && rc == EXIT_OK; o++) {
        if (out) snprintf(paths[o], PATH_MAX, "%s", out);
        else snprintf(paths[o], PATH_MAX, "%s/%s_seed%lld_%lld.mid", out_dir, stem, seed, o + 1);
        char wav_path[PATH_MAX];
        app_wav_name(paths[o], wav_path, sizeof wav_path);
        if (!app_output_ok(paths[o], force) || (wav && !app_output_ok(wav_path, force))) rc = EXIT_FAIL;
    }
    /* the folder too, before any work */
    if (rc == EXIT_OK && !out && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        app_error("%s: cannot make the folder: %s", out_dir,
                  errno == EROFS ? "the file system is read-only" : strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK && !app_folder_writable(paths[0])) rc = EXIT_FAIL;
    cdz_score primer = {0};
    int have_primer = 0;
    cdz_gen_request rq = cdz_gen_default_request();
    if (rc == EXIT_OK && (primer_file || pitches)) {
        cdz_status st = primer_file ? cdz_score_read_file(&primer, primer_file, &err) : pitches_score(pitches, &primer, &err);
        if (st != CDZ_OK) {
            app_error("%s", err.msg);
            rc = st == CDZ_ERR_ARG ? EXIT_USAGE : EXIT_FAIL;
        } else {
            have_primer = 1;
            rq.primer = &primer;
            if (primer_file) app_note_score_warnings(&primer, primer_file);
        }
    }
    if (rc == EXIT_OK && primer_track && !find_track(&primer, primer_track, &rq.primer_track)) {
        app_error("%s: no track numbered or named '%s' (see 'cadenza midi info %s')", primer_file, primer_track, primer_file);
        rc = EXIT_FAIL;
    }
    cdz_gen_result res = {0};
    gen_progress prog = {app_now(), 0, isatty(2), 0};
    if (rc == EXIT_OK) {
        rq.primer_bars = primer_bars;
        rq.unit = bars ? CDZ_LEN_BARS : seconds > 0 ? CDZ_LEN_SECONDS : tokens ? CDZ_LEN_TOKENS : CDZ_LEN_STEPS;
        rq.length = bars ? (double)bars : seconds > 0 ? seconds : tokens ? (double)tokens : steps ? (double)steps : 128;
        rq.sampling = sp;
        rq.seed = (uint64_t)seed;
        rq.n_outputs = (int)outputs;
        rq.qpm = qpm;
        rq.context = context;
        rq.progress = on_progress, rq.progress_ctx = &prog;
        if (cdz_generate_score(m, &rq, &res, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = err.status == CDZ_ERR_ARG ? EXIT_USAGE : EXIT_FAIL;
        }
    }
    double el = app_now() - prog.start;
    if (prog.open) fputc('\n', stderr); /* a length in seconds ends before the token count it allowed */
    if (rc == EXIT_OK && res.notes[0]) fprintf(stderr, "note: %s\n", res.notes);

    const int per_step = codec && codec->gen && codec->gen->tokens_per_step ? codec->gen->tokens_per_step : 0;
    const char *unit = per_step ? "steps" : "tokens";
    const int64_t lead = per_step ? codec->gen->lead : 0, div = per_step ? per_step : 1;
    int64_t made = 0;
    for (int o = 0; o < res.n && rc == EXIT_OK; o++) {
        char text[PATH_MAX + 800];
        snprintf(text, sizeof text,
                 "cadenza generate: model %s (%s), seed %lld, output %d of %lld, temperature %g, top-k %d, top-p %g, "
                 "beam %d, branch %d, steps per iteration %d, primer %lld %s%s%s, %lld new %s, %g qpm, %d/%d, "
                 "context %lld, backend %s",
                 cdz_model_config_name(m), ckpt, seed, o + 1, outputs, sp.temperature, sp.top_k, sp.top_p, sp.beam_size,
                 sp.branch_factor, sp.steps_per_iteration, (long long)((res.primer_tokens - lead) / div), unit,
                 primer_file ? " of " : "", primer_file ? primer_file : "", (long long)(res.new_tokens[o] / div), unit,
                 res.qpm, res.numerator, res.denominator, (long long)res.context, cdz_model_backend(m)->name);
        if (app_write_score(&res.scores[o], paths[o], text) != EXIT_OK) {
            rc = EXIT_FAIL;
            break;
        }
        made += res.new_tokens[o];
        printf("wrote %s (%lld primer + %lld new %s, %.1f s of music, log-likelihood %.2f)\n", paths[o],
               (long long)((res.primer_tokens - lead) / div), (long long)(res.new_tokens[o] / div), unit,
               res.scores[o].duration_s, res.loglik[o]);
        if (wav && app_wav_beside(paths[o]) != EXIT_OK) rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK)
        fprintf(stderr, "%lld %s in %.2f s (%.0f %s/s)\n", (long long)(made / div), unit, el, (double)(made / div) / fmax(el, 1e-9),
                unit);
    cdz_gen_result_free(&res);
    if (have_primer) cdz_score_free(&primer);
    free(paths);
    cdz_model_free(m);
    return rc;
}
