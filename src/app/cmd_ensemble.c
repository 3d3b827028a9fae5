/* cadenza generate for ensemble models (style, instruments, minutes) and cadenza infill: the CLI of
 * cadenza/ensemble.h. The library does the music; this file parses, checks outputs before any work,
 * and prints. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "cadenza/data.h"
#include "cadenza/ensemble.h"
#include "cadenza/json.h"
#include "cadenza/plot.h"
#include "cadenza/train.h"

/* ---- shared ---- */

static int parse_instruments(const char *list, uint32_t *groups) {
    *groups = 0;
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)(len < 79 ? len : 79), p);
        int g = cdz_ens_group_find(name);
        if (g < 0) {
            char all[800];
            cdz_ens_group_list(all, sizeof all);
            app_error("unknown instrument '%s'; the instruments are: %s (or a General MIDI program's name, e.g. "
                      "\"French Horn\")", name, all);
            return 0;
        }
        *groups |= 1u << g;
        p = e ? e + 1 : NULL;
    }
    return 1;
}

static int parse_header(const char *style, const char *composer, const char *instruments, cdz_ens_header *h) {
    *h = cdz_ens_header_default();
    char all[600];
    if (style && (h->style = cdz_ens_style_find(style)) < 0) {
        cdz_ens_style_list(all, sizeof all);
        app_error("unknown style '%s'; the styles are: %s", style, all);
        return 0;
    }
    if (composer) {
        for (int k = 0; k < CDZ_ENS_COMPOSERS; k++)
            if (strcasecmp(composer, cdz_ens_composer_name(k)) == 0) h->composer = k;
        if (h->composer < 0) {
            cdz_ens_composer_list(all, sizeof all);
            app_error("unknown composer '%s'; the composers the model knows are: %s", composer, all);
            return 0;
        }
    }
    return !instruments || parse_instruments(instruments, &h->groups);
}

static void show_progress(void *ctx, double done, double total) {
    int *open = ctx;
    if (!isatty(2)) return;
    fprintf(stderr, "\r  %.0f / %.0f s of music", done, total);
    *open = 1;
}

/* The piano roll of a score beside its MIDI file (FILE.png): EXIT_OK or EXIT_FAIL (said). */
static int plot_beside(const char *mid, const cdz_score *s, const char *title) {
    char png[PATH_MAX];
    snprintf(png, sizeof png, "%s", mid);
    size_t n = strlen(png);
    if (n > 4 && app_has_extension(png, ".mid")) png[n - 4] = 0;
    strncat(png, ".png", sizeof png - strlen(png) - 1);
    if (!s->n_notes) {
        fprintf(stderr, "note: %s not written: the piece has no notes to draw\n", png);
        return EXIT_OK;
    }
    cdz_plot_params p = cdz_plot_default_params();
    cdz_error err = {0};
    const cdz_score *sp = s;
    if (cdz_plot_pianoroll_write(png, &sp, &title, 1, &p, &err) != CDZ_OK) {
        app_error("%s: %s", png, err.msg);
        return EXIT_FAIL;
    }
    printf("wrote %s\n", png);
    return EXIT_OK;
}

static int outputs_ok(const char *mid, int wav, int plot, int force) {
    char path[PATH_MAX];
    if (!app_output_ok(mid, force)) return 0;
    if (wav) {
        app_wav_name(mid, path, sizeof path);
        if (!app_output_ok(path, force)) return 0;
    }
    if (plot) {
        snprintf(path, sizeof path, "%s", mid);
        size_t n = strlen(path);
        if (n > 4 && app_has_extension(path, ".mid")) path[n - 4] = 0;
        strncat(path, ".png", sizeof path - strlen(path) - 1);
        if (!app_output_ok(path, force)) return 0;
    }
    if (wav && !cdz_render_available()) {
        app_error("--wav: this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                  "fluid-soundfont-gm, or 'make deps') and rebuild");
        return 0;
    }
    if (plot && !cdz_png_available()) {
        app_error("--plot: this cadenza was built without libpng: install it (apt-get install libpng-dev, or 'make deps') and rebuild");
        return 0;
    }
    return app_folder_writable(mid);
}

/* What the written file says of how it was made, and what the user is told. */
static void describe_request(const cdz_model *m, const char *ckpt, const cdz_ens_request *rq, char *buf, size_t n) {
    char inst[400] = "";
    size_t at = 0;
    for (int g = 0; g < CDZ_ENS_GROUPS && at + 20 < sizeof inst; g++)
        if (rq->header.groups >> g & 1u) at += (size_t)snprintf(inst + at, sizeof inst - at, "%s%s", at ? "," : "", cdz_ens_group_name(g));
    snprintf(buf, n, "cadenza: model %s (%s), style %s, composer %s, instruments %s, seed %llu, temperature %g, top-k %d, top-p %g, %s",
             cdz_model_config_name(m), ckpt, rq->header.style >= 0 ? cdz_ens_style_name(rq->header.style) : "(model's choice)",
             rq->header.composer >= 0 ? cdz_ens_composer_name(rq->header.composer) : "(none)", at ? inst : "(model's choice, or the parts not kept)",
             (unsigned long long)rq->seed, rq->sampling.temperature, rq->sampling.top_k, rq->sampling.top_p,
             rq->constrain ? "notes kept to the instruments and their ranges" : "unconstrained");
}

static int finish_output(const cdz_score *s, const char *path, const char *text, int wav, int plot, const char *title) {
    if (app_write_score(s, path, text) != EXIT_OK) return EXIT_FAIL;
    if (wav && app_wav_beside(path) != EXIT_OK) return EXIT_FAIL;
    if (plot && plot_beside(path, s, title) != EXIT_OK) return EXIT_FAIL;
    return EXIT_OK;
}

/* ---- cadenza generate (ensemble models) ---- */

int app_ensemble_generate(const cdz_model *m, const char *ckpt, const app_ens_opts *o) {
    cdz_ens_request rq = cdz_ens_default_request();
    if (!parse_header(o->style, o->composer, o->instruments, &rq.header)) return EXIT_USAGE;
    rq.seconds = o->minutes > 0 ? o->minutes * 60 : o->seconds > 0 ? o->seconds : 60;
    rq.qpm = o->qpm;
    rq.constrain = !o->unconstrained;
    rq.sampling = o->sampling;
    rq.context = o->context;
    char tail = 0;
    if (o->meter && (sscanf(o->meter, "%d/%d%c", &rq.numerator, &rq.denominator, &tail) != 2 ||
                     cdz_remi_time_sig_token(rq.numerator, rq.denominator) < 0)) {
        app_error("--meter %s: expected a time signature such as 3/4 or 6/8: 1/2 to 4/2, 1/4 to 8/4, 1/8 to 16/8 or 1/16 to 16/16",
                  o->meter);
        return EXIT_USAGE;
    }
    if (o->qpm > 0) {
        double held = cdz_ens_tempo_qpm(cdz_ens_tempo_bin(o->qpm));
        if (fabs(held - o->qpm) > 0.05)
            fprintf(stderr, "note: --qpm %g is written as %.1f qpm, the nearest of the model's 32 tempos (30 to 300 qpm)\n", o->qpm, held);
    }
    if (o->sampling.beam_size > 0) {
        app_error("ensemble models sample (no --beam-size)");
        return EXIT_USAGE;
    }
    char path[PATH_MAX];
    int rc = EXIT_OK;
    for (long long k = 0; k < o->outputs && rc == EXIT_OK; k++) {
        if (o->out) snprintf(path, sizeof path, "%s", o->out);
        else snprintf(path, sizeof path, "%s/ensemble_seed%lld_%lld.mid", o->out_dir, o->seed, k + 1);
        if (!o->out && k == 0 && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
            app_error("%s: cannot make the folder: %s", o->out_dir, strerror(errno));
            return EXIT_FAIL;
        }
        if (!outputs_ok(path, o->wav, o->plot, o->force)) return EXIT_FAIL;
    }
    for (long long k = 0; k < o->outputs && rc == EXIT_OK; k++) {
        if (o->out) snprintf(path, sizeof path, "%s", o->out);
        else snprintf(path, sizeof path, "%s/ensemble_seed%lld_%lld.mid", o->out_dir, o->seed, k + 1);
        rq.seed = (uint64_t)o->seed + (uint64_t)k;
        int open = 0;
        rq.progress = show_progress, rq.progress_ctx = &open;
        cdz_ens_result res;
        cdz_error err = {0};
        double t0 = app_now();
        cdz_status st = cdz_ens_generate(m, &rq, &res, &err);
        double el = app_now() - t0;
        if (open) fputc('\n', stderr);
        if (st) {
            app_error("%s", err.msg);
            return err.status == CDZ_ERR_ARG ? EXIT_USAGE : EXIT_FAIL;
        }
        char text[1200];
        describe_request(m, ckpt, &rq, text, sizeof text);
        rc = finish_output(&res.score, path, text, o->wav, o->plot, path);
        if (rc == EXIT_OK) {
            printf("wrote %s (%.1f s of music, %zu notes on %zu tracks; %lld tokens in %.1f s, %.0f tokens/s)\n", path,
                   res.score.duration_s, res.score.n_notes, res.score.n_tracks ? res.score.n_tracks - 1 : 0, (long long)res.tokens, el,
                   res.tokens / fmax(el, 1e-9));
            fprintf(stderr, "note: %s\n", res.notes);
        }
        cdz_ens_result_free(&res);
    }
    return rc;
}

/* ---- cadenza infill ---- */

static int parse_bars(const char *s, long long *b0, long long *b1) {
    char *end;
    errno = 0;
    long long a = strtoll(s, &end, 10);
    if (end == s || *end != ':' || a < 1) return 0;
    const char *q = end + 1;
    long long b = strtoll(q, &end, 10);
    if (end == q || *end || b < a || errno) return 0;
    *b0 = a - 1, *b1 = b;
    return 1;
}

int cmd_infill(int argc, char **argv) {
    const char *in = NULL, *keep = NULL, *bars = NULL, *out = NULL, *ckpt = NULL, *model = NULL;
    const char *style = NULL, *composer = NULL, *instruments = NULL;
    long long seed = 1, context = 0;
    int wav = 0, plot = 0, force = 0, unconstrained = 0;
    cdz_sample_params sp = cdz_sample_default_params();
    app_opt opts[] = {
        APP_ARG("IN.mid", &in, "the file to fill in"),
        APP_OPT_STRING("--keep", &keep, "NAMES", "the parts to keep note for note: track names (see 'cadenza midi info IN.mid')\n"
                                                 "or instruments, comma-separated, e.g. \"Violin I,Cello\" (required)"),
        APP_OPT_STRING("--bars", &bars, "A:B", "write only bars A to B (from 1, inclusive); the other parts stay as they\n"
                                               "are outside them (default: every bar)"),
        APP_OPT_STRING("--instruments", &instruments, "LIST",
                       "the instruments to write (default: those of the parts not kept)"),
        APP_OPT_STRING("--style", &style, "NAME", "the style to ask for (see 'cadenza models')"),
        APP_OPT_STRING("--composer", &composer, "NAME", "the composer to ask for"),
        APP_OPT_SWITCH("--unconstrained", &unconstrained, "let the model write outside the instruments' playing ranges"),
        APP_OPT_STRING("--checkpoint", &ckpt, "FILE", "an ensemble model written by 'cadenza train'"),
        APP_OPT_STRING("--model", &model, "NAME", "a shipped model (default ensemble)"),
        APP_SAMPLING_OPTS(&sp, &seed),
        APP_OPT_LONG("--context", &context, 1, 1 << 24, "N", "tokens the model attends to (default: its window)"),
        APP_OPT_STRING("--out", &out, "OUT.mid", "the file to write (required)"),
        APP_OPT_SWITCH("--wav", &wav, "also render it to OUT.wav (FluidSynth)"),
        APP_OPT_SWITCH("--plot", &plot, "also draw its piano roll to OUT.png"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"infill", "IN.mid --keep NAMES [--bars A:B] --out OUT.mid [options]",
                         "Fills in the parts of a MIDI file that are not kept, with an ensemble model that reads the kept\n"
                         "parts ahead of time (anticipation): a melody gets an accompaniment, a quartet its missing viola.\n"
                         "Kept parts come out note for note; the new parts are tracks named \"<instrument> (cadenza)\".",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!in) return app_usage(&cmd, "no input file given");
    if (!keep) return app_usage(&cmd, "--keep NAMES is required: the parts to keep");
    if (!out) return app_usage(&cmd, "--out OUT.mid is required");
    if (ckpt && model) return app_usage(&cmd, "give --checkpoint or --model, not both");
    long long b0 = 0, b1 = 0;
    if (bars && !parse_bars(bars, &b0, &b1)) return app_usage(&cmd, "--bars %s: expected A:B, bars from 1 with A <= B (e.g. 9:16)", bars);
    cdz_ens_request rq = cdz_ens_default_request();
    if (!parse_header(style, composer, instruments, &rq.header)) return EXIT_USAGE;
    if (!outputs_ok(out, wav, plot, force)) return EXIT_FAIL;
    char found[PATH_MAX];
    if (!ckpt) {
        if (!app_find_model(model ? model : "ensemble", found, sizeof found)) return EXIT_FAIL;
        ckpt = found;
    }
    cdz_score s;
    if (app_read_score(&s, in) != EXIT_OK) return EXIT_FAIL;
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(ckpt, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_score_free(&s);
        return EXIT_FAIL;
    }
    rq.sampling = sp, rq.seed = (uint64_t)seed, rq.context = context, rq.constrain = !unconstrained;
    cdz_ens_result res;
    double t0 = app_now();
    cdz_status st = cdz_ens_infill(m, &s, keep, b0, b1, &rq, &res, &err);
    double el = app_now() - t0;
    if (st) {
        app_error("%s: %s", in, err.msg);
        rc = err.status == CDZ_ERR_ARG ? EXIT_USAGE : EXIT_FAIL;
    } else {
        char text[1400];
        describe_request(m, ckpt, &rq, text, sizeof text);
        strncat(text, "; infill of ", sizeof text - strlen(text) - 1);
        strncat(text, in, sizeof text - strlen(text) - 1);
        rc = finish_output(&res.score, out, text, wav, plot, out);
        if (rc == EXIT_OK) {
            printf("wrote %s (%zu notes; %lld tokens written by the model in %.1f s)\n", out, res.score.n_notes, (long long)res.tokens, el);
            fprintf(stderr, "note: %s\n", res.notes);
        }
        cdz_ens_result_free(&res);
    }
    cdz_model_free(m);
    cdz_score_free(&s);
    return rc;
}

/* ---- cadenza eval ensemble ---- */

/* The style and composer an index.json beside the files gives a file (NULL json: none). */
static void header_from_index(const cdz_json *index, const char *dir, const char *path, cdz_ens_header *h) {
    *h = cdz_ens_header_default();
    char corpus[256];
    size_t k = strlen(dir);
    while (k > 1 && dir[k - 1] == '/') k--;
    size_t b = k;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(corpus, sizeof corpus, "%.*s", (int)(k - b), dir + b);
    const char *style = "", *composer = "";
    if (index && strncmp(path, dir, k) == 0 && path[k] == '/')
        for (size_t i = 0; i < index->n; i++) {
            const char *p = cdz_json_get_string(&index->items[i], "path", NULL);
            if (p && strcmp(p, path + k + 1) == 0) {
                style = cdz_json_get_string(&index->items[i], "style", "");
                composer = cdz_json_get_string(&index->items[i], "composer_name", cdz_json_get_string(&index->items[i], "composer", ""));
                break;
            }
        }
    h->style = cdz_ens_style_of(style, corpus);
    h->composer = cdz_ens_composer_of(composer);
}

int app_eval_ensemble(int argc, char **argv) {
    app_list ckpts = {0}, inputs = {0};
    double fraction = 0.1;
    long long pieces = 0;
    int json = 0;
    app_opt opts[] = {
        APP_OPT_LIST("--checkpoint", &ckpts, "FILE", "an ensemble model; repeatable (each is scored on the same pieces)"),
        APP_OPT_LIST("--in", &inputs, "DIR", "a corpus folder (its index.json gives styles and composers); repeatable"),
        APP_OPT_DOUBLE("--eval-fraction", &fraction, 0, 0.99, "F",
                       "score the files 'dataset build --eval-fraction F' put in the eval split (default 0.1)"),
        APP_OPT_LONG("--pieces", &pieces, 0, 1 << 30, "N", "at most N pieces (default all)"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval ensemble", "--checkpoint FILE [--checkpoint FILE] --in DIR [--in DIR] [options]",
                         "Held-out log-loss of ensemble models (the Anticipatory Music Transformer's protocol): per piece its\n"
                         "first bars up to a window, continuation (every token) and infilling of one instrument group given\n"
                         "the others, as anticipated controls and as plain past events; nats per token, bits per second.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!ckpts.n || !inputs.n) {
        app_list_free(&ckpts), app_list_free(&inputs);
        return app_usage(&cmd, "give --checkpoint and --in");
    }
    rc = EXIT_OK;
    cdz_model *models[8] = {0};
    int nm = 0;
    cdz_error err = {0};
    if (ckpts.n > 8) {
        app_list_free(&ckpts), app_list_free(&inputs);
        return app_usage(&cmd, "at most 8 checkpoints at once");
    }
    for (int i = 0; i < ckpts.n; i++) {
        if (cdz_checkpoint_load(ckpts.v[i], &models[nm], &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
            break;
        }
        nm++;
    }
    cdz_ens_eval acc[8][2];
    memset(acc, 0, sizeof acc);
    long long used = 0, held = 0, unreadable = 0, skipped = 0;
    char first_skip[400] = "";
    double t0 = app_now();
    for (int d = 0; d < inputs.n && rc == EXIT_OK; d++) {
        char **files;
        size_t n;
        if (cdz_file_list(inputs.v[d], ".mid,.midi", &files, &n, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
            break;
        }
        char ipath[PATH_MAX];
        snprintf(ipath, sizeof ipath, "%s/index.json", inputs.v[d]);
        uint8_t *ib = NULL;
        size_t il = 0;
        cdz_json *index = NULL;
        cdz_error e2 = {0};
        if (cdz_file_read_all(ipath, &ib, &il, &e2) == CDZ_OK && cdz_json_parse((const char *)ib, il, ipath, &index, &e2) != CDZ_OK)
            fprintf(stderr, "note: %s\n", e2.msg);
        cdz_free(ib);
        for (size_t f = 0; f < n && rc == EXIT_OK && (!pieces || used < pieces); f++) {
            uint8_t *bytes = NULL;
            size_t len = 0;
            if (cdz_file_read_all(files[f], &bytes, &len, &err) != CDZ_OK) {
                unreadable++;
                continue;
            }
            int in_eval = cdz_build_in_eval(bytes, len, fraction);
            uint64_t seed = cdz_fnv1a64(CDZ_FNV_OFFSET, bytes, len);
            cdz_free(bytes);
            if (!in_eval) continue;
            held++;
            cdz_score s;
            if (cdz_score_read_file(&s, files[f], &err) != CDZ_OK) {
                unreadable++;
                continue;
            }
            cdz_ens_header h;
            header_from_index(index, inputs.v[d], files[f], &h);
            /* a piece the codec cannot read (SMPTE time, a bar longer than a window) is skipped and
             * counted; the scores are added only when every model scored it */
            cdz_ens_eval one[8][2];
            memset(one, 0, sizeof one);
            int piece_ok = 1;
            for (int k = 0; k < nm && piece_ok; k++)
                for (int a = 0; a < 2 && piece_ok; a++) {
                    cdz_status pst = cdz_ens_eval_piece(models[k], &s, &h, seed, a, &one[k][a], &err);
                    if (pst == CDZ_ERR_NOMEM) {
                        app_error("%s: %s", files[f], err.msg);
                        rc = EXIT_FAIL;
                    }
                    if (pst) {
                        piece_ok = 0;
                        if (!first_skip[0]) snprintf(first_skip, sizeof first_skip, "%s: %s", files[f], err.msg);
                    }
                }
            if (!piece_ok) {
                skipped++;
                cdz_score_free(&s);
                continue;
            }
            for (int k = 0; k < nm; k++)
                for (int a = 0; a < 2; a++) {
                    cdz_ens_eval x = one[k][a];
                    /* continuation is the same both ways: counted once */
                    if (a == 1) x.cont_nats = x.cont_tokens = x.cont_notes = x.cont_seconds = 0, x.pieces = 0;
                    acc[k][a].pieces += x.pieces, acc[k][a].infill_pieces += x.infill_pieces;
                    acc[k][a].cont_nats += x.cont_nats, acc[k][a].cont_tokens += x.cont_tokens, acc[k][a].cont_seconds += x.cont_seconds;
                    acc[k][a].cont_notes += x.cont_notes;
                    acc[k][a].infill_nats += x.infill_nats, acc[k][a].infill_tokens += x.infill_tokens;
                    acc[k][a].infill_notes += x.infill_notes, acc[k][a].infill_seconds += x.infill_seconds;
                }
            used++;
            cdz_score_free(&s);
            if (isatty(2)) fprintf(stderr, "\r  %lld pieces", used);
        }
        cdz_json_free(index);
        cdz_file_list_free(files, n);
    }
    if (isatty(2)) fputc('\n', stderr);
    for (int k = 0; k < nm && rc == EXIT_OK; k++) {
        const cdz_ens_eval *c = &acc[k][0], *an = &acc[k][1];
        double cont = c->cont_nats / fmax(c->cont_tokens, 1), cont_bps = c->cont_nats / 0.69314718055994530942 / fmax(c->cont_seconds, 1e-9);
        double cont_note = c->cont_nats / fmax(c->cont_notes, 1);
        double inf_p = c->infill_nats / fmax(c->infill_notes, 1), inf_p_bps = c->infill_nats / 0.69314718055994530942 / fmax(c->infill_seconds, 1e-9);
        double inf_a = an->infill_nats / fmax(an->infill_notes, 1), inf_a_bps = an->infill_nats / 0.69314718055994530942 / fmax(an->infill_seconds, 1e-9);
        if (json)
            printf("{\"checkpoint\":\"%s\",\"pieces\":%lld,\"infill_pieces\":%lld,\"continuation_nats_per_token\":%.5f,"
                   "\"continuation_bits_per_second\":%.3f,\"continuation_nats_per_note\":%.5f,\"infill_plain_nats_per_note\":%.5f,\"infill_plain_bits_per_second\":%.3f,"
                   "\"infill_controls_nats_per_note\":%.5f,\"infill_controls_bits_per_second\":%.3f,\"seconds\":%.1f}\n",
                   ckpts.v[k], (long long)c->pieces, (long long)c->infill_pieces, cont, cont_bps, cont_note, inf_p, inf_p_bps, inf_a,
                   inf_a_bps, c->cont_seconds);
        else
            printf("%s: %lld pieces (%.0f s of music, %lld with a part to infill)\n"
                   "  continuation            %.4f nats/token  %.1f bits/s  %.3f nats/note (every token of the stretch)\n"
                   "  infill, parts as past   %.4f nats/note   %.1f bits/s  (note and duration tokens of the part)\n"
                   "  infill, parts ahead     %.4f nats/note   %.1f bits/s  (anticipated controls)\n",
                   ckpts.v[k], (long long)c->pieces, c->cont_seconds, (long long)c->infill_pieces, cont, cont_bps, cont_note, inf_p, inf_p_bps,
                   inf_a, inf_a_bps);
    }
    if (rc == EXIT_OK && !json)
        fprintf(stderr, "%lld held-out files (eval fraction %g) scored in %.0f s\n", used, fraction, app_now() - t0);
    if (rc == EXIT_OK && (unreadable || skipped))
        fprintf(stderr, "note: of %lld held-out files, %lld could not be read and %lld were skipped (first: %s)\n", held + unreadable,
                unreadable, skipped, first_skip[0] ? first_skip : "none");
    for (int k = 0; k < nm; k++) cdz_model_free(models[k]);
    app_list_free(&ckpts), app_list_free(&inputs);
    return rc;
}

/* ---- cadenza eval instruments ---- */

int app_eval_instruments(int argc, char **argv) {
    app_list files = {0};
    const char *instruments = NULL;
    int json = 0;
    app_opt opts[] = {APP_ARGS("FILE.mid", &files, "pieces"),
                      APP_OPT_STRING("--instruments", &instruments, "LIST", "the instruments asked for (required)"),
                      APP_OPT_JSON(&json), APP_END};
    const app_cmd cmd = {"eval instruments", "FILE.mid... --instruments LIST [--json]",
                         "How generated pieces keep to the instruments asked for: the share of notes on them, and the share\n"
                         "outside each instrument's playing range (the ranges 'cadenza generate' keeps to).",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    uint32_t groups = 0;
    if (!files.n || !instruments) {
        app_list_free(&files);
        return app_usage(&cmd, "give the files and --instruments");
    }
    if (!parse_instruments(instruments, &groups)) {
        app_list_free(&files);
        return EXIT_USAGE;
    }
    cdz_ens_instrumentation all = {0};
    rc = EXIT_OK;
    for (int i = 0; i < files.n && rc == EXIT_OK; i++) {
        cdz_score s;
        if (app_read_score(&s, files.v[i]) != EXIT_OK) {
            rc = EXIT_FAIL;
            break;
        }
        cdz_ens_instrumentation one = {0};
        cdz_ens_instrumentation_add(&s, groups, &one);
        all.notes += one.notes, all.on_requested += one.on_requested, all.out_of_range += one.out_of_range;
        if (!json)
            printf("%s: %lld notes, %.2f%% on the instruments asked for, %.2f%% outside their instrument's range\n", files.v[i],
                   (long long)one.notes, 100.0 * one.on_requested / fmax(one.notes, 1), 100.0 * one.out_of_range / fmax(one.notes, 1));
        cdz_score_free(&s);
    }
    if (rc == EXIT_OK) {
        if (json)
            printf("{\"files\":%d,\"notes\":%lld,\"on_requested\":%.5f,\"out_of_range\":%.5f}\n", files.n, (long long)all.notes,
                   (double)all.on_requested / fmax(all.notes, 1), (double)all.out_of_range / fmax(all.notes, 1));
        else if (files.n > 1)
            printf("all %d files: %lld notes, %.2f%% on the instruments asked for, %.2f%% outside their range\n", files.n,
                   (long long)all.notes, 100.0 * all.on_requested / fmax(all.notes, 1), 100.0 * all.out_of_range / fmax(all.notes, 1));
    }
    app_list_free(&files);
    return rc;
}

/* The track of s named name (case-insensitive) or numbered so (as 'cadenza midi info' shows), or -1. */
static int track_by_name(const cdz_score *s, const char *name) {
    char *end;
    long k = strtol(name, &end, 10);
    if (*name && !*end) return k >= 0 && (size_t)k < s->n_tracks ? (int)k : -1;
    for (size_t t = 0; t < s->n_tracks; t++)
        if (strcasecmp(s->tracks[t].name, name) == 0) return (int)t;
    return -1;
}

int app_eval_controls(int argc, char **argv) {
    app_list files = {0};
    const char *ckpt = NULL, *track = NULL, *style = NULL, *composer = NULL;
    int json = 0;
    app_opt opts[] = {APP_ARGS("FILE.mid", &files, "pieces"),
                      APP_OPT_STRING("--checkpoint", &ckpt, "FILE", "an ensemble model (required)"),
                      APP_OPT_STRING("--track", &track, "NAME", "the track given as controls: a name or a number (required)"),
                      APP_OPT_STRING("--style", &style, "NAME", "the style token of the header"),
                      APP_OPT_STRING("--composer", &composer, "NAME", "the composer token of the header"),
                      APP_OPT_JSON(&json), APP_END};
    const app_cmd cmd = {"eval controls", "FILE.mid... --checkpoint FILE --track NAME [--style NAME] [--json]",
                         "Does an ensemble model read the anticipated controls? Per piece, one track as controls and the\n"
                         "other tracks' notes scored over its first bars, with the controls where the layout puts them and\n"
                         "moved (a bar early or late, half a beat late, from other bars) or left out. A model that reads\n"
                         "them scores the layout best; one that ignores them scores every variant alike.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    cdz_ens_header h;
    if (!files.n || !ckpt || !track) {
        app_list_free(&files);
        return app_usage(&cmd, "give the files, --checkpoint and --track");
    }
    if (!parse_header(style, composer, NULL, &h)) {
        app_list_free(&files);
        return EXIT_USAGE;
    }
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(ckpt, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        app_list_free(&files);
        return EXIT_FAIL;
    }
    cdz_ens_probe acc = {0};
    long long skipped = 0;
    rc = EXIT_OK;
    for (int i = 0; i < files.n && rc == EXIT_OK; i++) {
        cdz_score s;
        if (app_read_score(&s, files.v[i]) != EXIT_OK) {
            rc = EXIT_FAIL;
            break;
        }
        int t = track_by_name(&s, track);
        if (t < 0) {
            fprintf(stderr, "note: %s has no track '%s': skipped\n", files.v[i], track);
            skipped++;
        } else if (cdz_ens_probe_controls(m, &s, t, &h, &acc, &err) != CDZ_OK) {
            if (err.status == CDZ_ERR_ARG) {
                fprintf(stderr, "note: %s: %s: skipped\n", files.v[i], err.msg);
                skipped++;
            } else {
                app_error("%s: %s", files.v[i], err.msg);
                rc = EXIT_FAIL;
            }
        }
        cdz_score_free(&s);
    }
    if (rc == EXIT_OK && !acc.pieces) {
        app_error("no piece could be scored (%lld skipped)", skipped);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK) {
        if (json) {
            printf("{\"pieces\":%lld,\"skipped\":%lld", (long long)acc.pieces, skipped);
            static const char *keys[CDZ_ENS_PROBES] = {"layout", "one_bar", "three_bars", "offbeat", "other_bars", "none"};
            for (int v = 0; v < CDZ_ENS_PROBES; v++) printf(",\"%s\":%.5f", keys[v], acc.nats[v] / fmax(acc.tokens[v], 1));
            printf(",\"tokens\":%.0f}\n", acc.tokens[0]);
        } else {
            printf("%lld pieces (%lld skipped), %.0f note and duration tokens of the other tracks scored in each variant:\n",
                   (long long)acc.pieces, skipped, acc.tokens[0]);
            for (int v = 0; v < CDZ_ENS_PROBES; v++)
                printf("  %-40s %.4f nats/token\n", cdz_ens_probe_name(v), acc.nats[v] / fmax(acc.tokens[v], 1));
        }
    }
    cdz_model_free(m);
    app_list_free(&files);
    return rc;
}
