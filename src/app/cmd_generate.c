/* cadenza generate: melodies from a trained model (by default the one shipped in models/), primed by a
 * MIDI file or a pitch list, by sampling or Magenta's beam search. Output files record the model,
 * seed and settings in their names and in a text event. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

static const char GENERATE_USAGE[] =
    "usage: cadenza generate [--checkpoint FILE] [--primer FILE.mid | --primer-pitches LIST] [options]\n"
    "\n"
    "  --checkpoint FILE     a model written by 'cadenza train' or 'cadenza export'\n"
    "  --model NAME          a shipped model, models/NAME.safetensors: attention_rnn (melodies, the default)\n"
    "                        or performance (piano performances)\n"
    "  --primer FILE.mid     start from the first melody of this file (kept at the start of each output)\n"
    "  --primer-pitches L    start from these steps in Magenta's notation: MIDI pitches, -2 to hold, -1 for\n"
    "                        a note-off, one per 16th note, e.g. \"60,-2,62,-2,64\" (default \"60\")\n"
    "  --steps N             16th-note steps (event models: tokens) to generate after the primer (default 128)\n"
    "  --bars N              the same in 4/4 bars (16 steps each)\n"
    "  --seconds N           event models on performances: stop after N seconds of music\n"
    "  --qpm X               tempo of the output (default: the primer file's, else 120)\n"
    "  --temperature X       above 1 more random, below 1 more conservative, 0 greedy (default 1)\n"
    "  --top-k N, --top-p X  sample only from the k most likely tokens / the smallest set with mass p\n"
    "  --seed N              random seed (default 1); the same seed and settings give the same music\n"
    "  --num-outputs N       how many melodies (default 1)\n"
    "  --beam-size N         beam search with N beams (Magenta's melody_rnn_generate; default 0: sampling)\n"
    "  --branch-factor N     copies of each beam per iteration (default 1)\n"
    "  --steps-per-iteration N  steps between beam selections (default 1)\n"
    "  --out-dir DIR         where to write (default generated/); names: MODEL_seedS_N.mid\n"
    "  --out FILE.mid        the file to write, for a single output\n"
    "  --wav                 also render each output to FILE.wav beside it (FluidSynth; see 'cadenza render')\n"
    "\n"
    "Event models (Music Transformer on performances or chorales) take --primer FILE.mid (its opening\n"
    "tokens, at most half the model's length) or start from scratch, and --seconds N (performances) or\n"
    "--steps N tokens; --top-k and --top-p work as above.\n";

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

/* The first melody of a MIDI file (any length, one track's highest line), its tempo, into ev. */
static int primer_from_midi(const char *path, int16_t **ev, size_t *n, double *qpm) {
    cdz_error err = {0};
    cdz_score s;
    if (cdz_score_read_file(&s, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return 0;
    }
    cdz_melody_params p = cdz_melody_default_params();
    p.min_bars = 0, p.min_unique_pitches = 1, p.keep_highest = 1, p.gap_bars = 1e6, p.max_steps = 0;
    cdz_melody *mel = NULL;
    size_t k = 0;
    cdz_extract_stats st = {0};
    if (s.n_tempos) *qpm = s.tempos[0].qpm;
    if (cdz_extract_melodies(&s, &p, &mel, &k, &st, &err) != CDZ_OK || k == 0) {
        app_error("%s: %s", path, k == 0 && !err.msg[0] ? "no melody found to prime with (no notes outside drums?)" : err.msg);
        cdz_score_free(&s);
        return 0;
    }
    *ev = mel[0].events, *n = mel[0].n_steps;
    mel[0].events = NULL;
    cdz_melodies_free(mel, k);
    cdz_score_free(&s);
    return 1;
}

/* Labels of the model's codec for the primer's events (squashed into 48-83 beforehand). */
static int primer_tokens(const char *codec, const cdz_melody *mel, uint16_t *tok) {
    if (strcmp(codec, "melody") == 0) {
        cdz_error err;
        return cdz_melody_encode(mel, tok, &err) == CDZ_OK;
    }
    for (size_t i = 0; i < mel->n_steps; i++) {
        if (strcmp(codec, "key_melody") == 0) tok[i] = (uint16_t)cdz_key_melody_label(mel->events, i);
        else if (strcmp(codec, "lookback") == 0) tok[i] = (uint16_t)cdz_lookback_label(mel->events, i);
        else return 0;
    }
    return 1;
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

typedef struct gen_progress {
    double start, last;
    int tty;
} gen_progress;
static void on_progress(void *ctx, int64_t done, int64_t total) {
    gen_progress *p = ctx;
    double now = app_now();
    if (!p->tty || (now - p->last < 0.1 && done < total)) return;
    p->last = now;
    fprintf(stderr, "\r  generating %lld/%lld steps  %.0f steps/s ", (long long)done, (long long)total,
            done / fmax(now - p->start, 1e-9));
    if (done == total) fputc('\n', stderr);
}

/* ---- event models (performances, chorales) ---- */

typedef struct seconds_stop {
    int64_t from;     /* the first new token */
    double seconds;
} seconds_stop;

/* Performance tokens: the time shifts after the primer add up to the wanted length. */
static int enough_seconds(void *ctx, const uint16_t *tok, int64_t len) {
    const seconds_stop *s = ctx;
    return cdz_performance_seconds(tok + s->from, (size_t)(len - s->from)) >= s->seconds;
}

/* The primer's tokens: the first sequence the codec makes of the file, at most `cap` tokens; or, from
 * scratch, the chorale codec's start token or a medium velocity for performances. */
static int event_primer(const cdz_codec *codec, const char *file, int64_t cap, uint16_t **out, int64_t *n) {
    cdz_error err = {0};
    if (!file) {
        *out = cdz_calloc(1, sizeof **out);
        if (!*out) return 0;
        (*out)[0] = strcmp(codec->name, "chorale") == 0 ? CDZ_CHORALE_BOS
                  : strcmp(codec->name, "performance") == 0 ? CDZ_PERF_VELOCITY + CDZ_PERF_VELOCITY_BINS / 2 : 0;
        *n = 1;
        return 1;
    }
    cdz_score s = {0};
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    if (cdz_score_read_file(&s, file, &err) != CDZ_OK || codec->encode(&s, &t, &st, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_score_free(&s);
        cdz_tokens_free(&t);
        return 0;
    }
    cdz_score_free(&s);
    if (t.n_seqs == 0 || t.offsets[1] == 0) {
        app_error("%s: nothing to prime with in the '%s' encoding", file, codec->name);
        cdz_tokens_free(&t);
        return 0;
    }
    *n = (int64_t)t.offsets[1] < cap ? (int64_t)t.offsets[1] : cap;
    *out = cdz_calloc((size_t)*n, sizeof **out);
    if (*out) memcpy(*out, t.tokens, (size_t)*n * sizeof **out);
    cdz_tokens_free(&t);
    return *out != NULL;
}

static int generate_events(const cdz_model *m, const cdz_codec *codec, const char *ckpt, const char *primer_file, int wav,
                           long long steps, double seconds, long long seed, long long outputs, cdz_sample_params sp,
                           const char *out_dir, const char *out) {
    int64_t max_total = cdz_model_max_len(m) > 0 ? cdz_model_max_len(m) + 1 : 1 << 20, np = 0;
    uint16_t *primer = NULL;
    if (!event_primer(codec, primer_file, max_total / 2, &primer, &np)) return EXIT_FAIL;
    seconds_stop stop = {np, seconds};
    if (seconds > 0) {
        if (strcmp(codec->name, "performance") != 0) {
            cdz_free(primer);
            return app_usage_error(GENERATE_USAGE, "--seconds needs a performance model (this one reads '%s')", codec->name);
        }
        sp.stop = enough_seconds, sp.stop_ctx = &stop;
        steps = max_total - np; /* at most */
    }
    if (np + steps > max_total) steps = max_total - np;
    size_t len = (size_t)(np + steps);
    uint16_t *tokens = cdz_calloc(len * (size_t)outputs, sizeof *tokens);
    double *loglik = cdz_calloc((size_t)outputs, sizeof *loglik);
    int rc = EXIT_FAIL;
    cdz_error err = {0};
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)seed);
    gen_progress prog = {app_now(), 0, isatty(2)};
    int64_t made = 0;
    if (!tokens || !loglik) app_error("out of memory");
    else if (cdz_generate_until(m, primer, np, steps, (int)outputs, &sp, &rng, tokens, loglik, &made, on_progress, &prog,
                                &err) != CDZ_OK)
        app_error("%s", err.msg);
    else rc = EXIT_OK;
    double el = app_now() - prog.start;
    if (prog.tty && rc == EXIT_OK) fputc('\n', stderr);
    if (!out) mkdir(out_dir, 0777);
    for (long long o = 0; o < outputs && rc == EXIT_OK; o++) {
        char path[PATH_MAX], text[PATH_MAX + 600];
        if (out) snprintf(path, sizeof path, "%s", out);
        else snprintf(path, sizeof path, "%s/%s_seed%lld_%lld.mid", out_dir, cdz_model_config_name(m), seed, o + 1);
        snprintf(text, sizeof text,
                 "cadenza generate: model %s (%s), seed %lld, output %lld of %lld, temperature %g, top-k %d, top-p %g, "
                 "primer %lld tokens%s%s, %lld new tokens",
                 cdz_model_config_name(m), ckpt, seed, o + 1, outputs, sp.temperature, sp.top_k, sp.top_p, (long long)np,
                 primer_file ? " of " : "", primer_file ? primer_file : "", (long long)made);
        cdz_score s;
        cdz_midi midi;
        cdz_status st = codec->decode(tokens + (size_t)o * len, (size_t)(np + made), &s, &err);
        if (st == CDZ_OK) {
            st = cdz_score_to_midi(&midi, &s, 1, &err);
            if (st == CDZ_OK) {
                st = add_text_first(&midi, text);
                if (st == CDZ_OK) st = cdz_midi_write_file(&midi, path, &err);
                else cdz_error_set(&err, st, "out of memory");
                cdz_midi_free(&midi);
            }
            double dur = s.duration_s;
            cdz_score_free(&s);
            if (st == CDZ_OK)
                printf("wrote %s (%lld primer + %lld new tokens, %.1f s of music, log-likelihood %.2f)\n", path,
                       (long long)np, (long long)made, dur, loglik[o]);
            if (st == CDZ_OK && wav && app_wav_beside(path) != EXIT_OK) rc = EXIT_FAIL;
        }
        if (st != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK)
        fprintf(stderr, "%lld tokens in %.2f s (%.0f tokens/s)\n", (long long)(made * outputs), el,
                (double)(made * outputs) / (el > 1e-9 ? el : 1e-9));
    cdz_free(primer), cdz_free(tokens), cdz_free(loglik);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    const char *ckpt = NULL, *model = NULL, *primer_file = NULL, *pitches = "60", *out_dir = "generated", *out = NULL;
    long long steps = 128, seed = 1, outputs = 1, ll;
    double qpm = -1, d, seconds = 0;
    int wav = 0;
    cdz_sample_params sp = cdz_sample_default_params();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (app_is_help(a)) {
            fputs(GENERATE_USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "--wav") == 0) {
            wav = 1;
            continue;
        }
        if (!v) return app_usage_error(GENERATE_USAGE, "unexpected argument '%s'", a);
        i++;
        if (strcmp(a, "--checkpoint") == 0) ckpt = v;
        else if (strcmp(a, "--model") == 0) model = v;
        else if (strcmp(a, "--primer") == 0) primer_file = v;
        else if (strcmp(a, "--primer-pitches") == 0) pitches = v;
        else if (strcmp(a, "--out-dir") == 0) out_dir = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if ((strcmp(a, "--steps") == 0 || strcmp(a, "--bars") == 0) && app_parse_long(v, 1, 1 << 20, &ll))
            steps = a[2] == 'b' ? ll * 16 : ll;
        else if (strcmp(a, "--num-outputs") == 0 && app_parse_long(v, 1, 10000, &ll)) outputs = ll;
        else if (strcmp(a, "--beam-size") == 0 && app_parse_long(v, 0, 1024, &ll)) sp.beam_size = (int)ll;
        else if (strcmp(a, "--branch-factor") == 0 && app_parse_long(v, 1, 1024, &ll)) sp.branch_factor = (int)ll;
        else if (strcmp(a, "--steps-per-iteration") == 0 && app_parse_long(v, 1, 1 << 20, &ll)) sp.steps_per_iteration = (int)ll;
        else if (app_parse_sampling(a, v, &sp, &seed)) continue;
        else if (strcmp(a, "--qpm") == 0 && app_parse_double(v, 1, 1000, &d)) qpm = d;
        else if (strcmp(a, "--seconds") == 0 && app_parse_double(v, 0.01, 36000, &d)) seconds = d;
        else return app_usage_error(GENERATE_USAGE, "bad value '%s' for %s", v, a);
    }
    if (out && outputs > 1) return app_usage_error(GENERATE_USAGE, "--out names one file: use --out-dir with --num-outputs");
    if (ckpt && model) return app_usage_error(GENERATE_USAGE, "give --checkpoint or --model, not both");
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
    const cdz_codec *codec = cdz_codec_find(cdz_model_codec(m));
    if (codec && strcmp(cdz_model_codec(m), "melody") != 0 && strcmp(cdz_model_codec(m), "lookback") != 0 && strcmp(cdz_model_codec(m), "key_melody") != 0) {
        if (sp.beam_size > 0) {
            cdz_model_free(m);
            return app_usage_error(GENERATE_USAGE, "beam search is for melody models; sample event models with --top-k/--top-p");
        }
        int rc = generate_events(m, codec, ckpt, primer_file, wav, steps, seconds, seed, outputs, sp, out_dir, out);
        cdz_model_free(m);
        return rc;
    }
    /* the primer as a melody, squashed into the model's range and key as in training (Magenta's
     * MelodyRnnModel.generate_melody); the output is transposed back */
    cdz_melody mel = {0};
    double file_qpm = 120;
    int ok = 1;
    if (primer_file) {
        ok = primer_from_midi(primer_file, &mel.events, &mel.n_steps, &file_qpm);
    } else {
        mel.events = cdz_calloc(4096, sizeof *mel.events);
        ok = mel.events && parse_pitches(pitches, mel.events, 4096, &mel.n_steps);
        if (!ok) app_error("--primer-pitches needs numbers from -2 to 127 separated by commas, not '%s'", pitches);
    }
    if (qpm <= 0) qpm = file_qpm;
    uint16_t *primer = NULL, *tokens = NULL;
    double *loglik = NULL;
    int rc = EXIT_FAIL;
    if (!ok) goto out;
    mel.steps_per_quarter = 4, mel.steps_per_bar = 16;
    int shift = cdz_melody_squash(&mel, CDZ_MELODY_MIN_NOTE, CDZ_MELODY_MAX_NOTE, 0);
    size_t np = mel.n_steps, len = np + (size_t)steps;
    primer = cdz_calloc(np, sizeof *primer);
    tokens = cdz_calloc(len * (size_t)outputs, sizeof *tokens);
    loglik = cdz_calloc((size_t)outputs, sizeof *loglik);
    if (!primer || !tokens || !loglik || !codec) {
        app_error("%s", !codec ? "the checkpoint's codec is unknown" : "out of memory");
        goto out;
    }
    if (!primer_tokens(cdz_model_codec(m), &mel, primer)) {
        app_error("%s: a %s model (codec %s): generate takes melody models so far (codecs melody, lookback, key_melody)",
                  ckpt, cdz_model_kind_name(m), cdz_model_codec(m));
        goto out;
    }
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)seed);
    gen_progress prog = {app_now(), 0, isatty(2)};
    if (cdz_generate(m, primer, (int64_t)np, steps, (int)outputs, &sp, &rng, tokens, loglik, on_progress, &prog, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        goto out;
    }
    double el = app_now() - prog.start;
    if (!out) mkdir(out_dir, 0777);
    rc = EXIT_OK;
    for (long long o = 0; o < outputs && rc == EXIT_OK; o++) {
        cdz_score s;
        cdz_midi midi;
        char path[PATH_MAX], text[PATH_MAX + 600];
        if (out) snprintf(path, sizeof path, "%s", out);
        else snprintf(path, sizeof path, "%s/%s_seed%lld_%lld.mid", out_dir, cdz_model_config_name(m), seed, o + 1);
        snprintf(text, sizeof text,
                 "cadenza generate: model %s (%s), seed %lld, output %lld of %lld, temperature %g, top-k %d, top-p %g, "
                 "beam %d, branch %d, steps per iteration %d, primer %zu steps, %lld new steps, qpm %g",
                 cdz_model_config_name(m), ckpt, seed, o + 1, outputs, sp.temperature, sp.top_k, sp.top_p, sp.beam_size,
                 sp.branch_factor, sp.steps_per_iteration, np, steps, qpm);
        cdz_status st = codec->decode(tokens + (size_t)o * len, len, &s, &err);
        if (st == CDZ_OK) {
            st = cdz_score_transpose(&s, -shift, &err);
            if (st == CDZ_OK) st = cdz_score_stretch(&s, 120.0 / qpm, &err);
            if (st == CDZ_OK) st = cdz_score_to_midi(&midi, &s, 1, &err);
            if (st == CDZ_OK) {
                st = add_text_first(&midi, text);
                if (st == CDZ_OK) st = cdz_midi_write_file(&midi, path, &err);
                else cdz_error_set(&err, st, "out of memory");
                cdz_midi_free(&midi);
            }
            cdz_score_free(&s);
        }
        if (st != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            printf("wrote %s (%zu primer + %lld new steps, log-likelihood %.2f)\n", path, np, steps, loglik[o]);
            if (wav && app_wav_beside(path) != EXIT_OK) rc = EXIT_FAIL;
        }
    }
    fprintf(stderr, "%lld steps in %.2f s (%.0f steps/s, %.1f seconds of music per second at %g qpm)\n",
            steps * outputs, el, (double)(steps * outputs) / fmax(el, 1e-9),
            (double)(steps * outputs) * 15.0 / qpm / fmax(el, 1e-9), qpm);
out:
    cdz_free(mel.events), cdz_free(primer), cdz_free(tokens), cdz_free(loglik);
    cdz_model_free(m);
    return rc;
}
