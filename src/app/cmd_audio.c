/* cadenza audio encode|decode (sound to an audio codec's codes and back) and cadenza eval audio (DAC's
 * distances between a reference clip and a decoded or generated one). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cadenza/audio.h"
#include "cadenza/audio_codec.h"
#include "cadenza/audio_metrics.h"
#include "cadenza/audio_prior.h"
#include "cadenza/train.h"

/* Reads a WAV file of any sample format and makes it mono at rate (0: its own), saying what changed. */
static int load_clip(const char *path, uint32_t *rate, float **x, size_t *n) {
    cdz_audio_f a;
    cdz_error err = {0};
    if (cdz_wav_read_any(path, &a, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (!*rate) *rate = a.sample_rate;
    char did[256];
    cdz_status st = cdz_audio_f_conform(&a, *rate, x, n, did, sizeof did, &err);
    cdz_audio_f_free(&a);
    if (st != CDZ_OK) {
        app_error("%s: %s", path, err.msg);
        return EXIT_FAIL;
    }
    if (did[0]) fprintf(stderr, "note: %s: %s\n", path, did);
    return EXIT_OK;
}

int app_eval_audio(int argc, char **argv) {
    const char *ref = NULL, *gen = NULL;
    long long rate = 0;
    int json = 0;
    app_opt opts[] = {APP_OPT_STRING("--reference", &ref, "REF.wav", "the original clip (required)"),
                      APP_OPT_STRING("--generated", &gen, "GEN.wav", "the decoded or generated clip (required)"),
                      APP_OPT_LONG("--rate", &rate, 1000, 384000, "HZ", "compare at this sample rate (default: the reference's)"),
                      APP_OPT_JSON(&json), APP_END};
    const app_cmd cmd = {"eval audio", "--reference REF.wav --generated GEN.wav [--rate HZ] [--json]",
                         "How close a clip is to a reference, by the Descript Audio Codec's definitions: the multi-scale mel\n"
                         "distance (lower is better; DAC reports 1.07 at 5.3 kbps, EnCodec 1.83 at 6 kbps, Opus 3.60 at 8 kbps\n"
                         "on their audio), the multi-scale STFT distance, and the scale-invariant SDR in dB (higher is better).\n"
                         "Both are read as mono at the same rate (channels averaged, resampled); the longer is cut to the\n"
                         "shorter, and the cut is said.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!ref || !gen) return app_usage(&cmd, "give --reference and --generated");
    uint32_t r = (uint32_t)rate;
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    rc = load_clip(ref, &r, &a, &na);
    if (rc == EXIT_OK) rc = load_clip(gen, &r, &b, &nb);
    if (rc == EXIT_OK) {
        size_t n = na < nb ? na : nb;
        if (na != nb)
            fprintf(stderr, "note: the clips differ in length (%zu and %zu samples at %u Hz): compared over the first %zu\n", na,
                    nb, r, n);
        double mel = NAN, stft = NAN, sdr = cdz_si_sdr(a, b, n);
        cdz_error err = {0};
        if (cdz_mel_distance(a, b, n, (int)r, &mel, &err) != CDZ_OK || cdz_stft_distance(a, b, n, &stft, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else if (json) {
            printf("{\"rate\":%u,\"samples\":%zu,\"mel_distance\":%.6f,\"stft_distance\":%.6f,\"si_sdr_db\":", r, n, mel, stft);
            if (isfinite(sdr)) printf("%.4f}\n", sdr);
            else printf("null}\n");
        } else {
            printf("%s against %s, %.2f s at %u Hz\n", gen, ref, (double)n / r, r);
            printf("  mel distance   %.4f   (DAC's multi-scale mel: 0 is identical)\n", mel);
            printf("  STFT distance  %.4f   (DAC's multi-scale STFT)\n", stft);
            if (isfinite(sdr)) printf("  SI-SDR         %.2f dB\n", sdr);
            else printf("  SI-SDR         infinite (the clips are the same up to scale)\n");
        }
    }
    cdz_free(a);
    cdz_free(b);
    return rc;
}

/* The mean statistics of a set of clips; 0 clips read is a failure (said). */
static int set_stats(const app_list *files, cdz_audio_clip_stats *mean, int json, const char *name) {
    memset(mean, 0, sizeof *mean);
    int n = 0;
    for (int i = 0; i < files->n; i++) {
        uint32_t rate = 0;
        float *x = NULL;
        size_t len = 0;
        if (load_clip(files->v[i], &rate, &x, &len) != EXIT_OK) return EXIT_FAIL;
        cdz_audio_clip_stats s;
        cdz_error err = {0};
        if (cdz_audio_stats(x, len, (int)rate, &s, &err) != CDZ_OK) {
            app_error("%s: %s", files->v[i], err.msg);
            cdz_free(x);
            return EXIT_FAIL;
        }
        cdz_free(x);
        if (!json) printf("  %-9s %s: %.1f s, %.2f onsets/s, level %.1f dB\n", name, files->v[i], s.seconds, s.onset_rate, s.rms_db);
        for (int k = 0; k < 12; k++) mean->chroma[k] += s.chroma[k];
        mean->onset_rate += s.onset_rate, mean->rms_db += s.rms_db, mean->seconds += s.seconds;
        n++;
    }
    for (int k = 0; k < 12; k++) mean->chroma[k] /= n;
    mean->onset_rate /= n, mean->rms_db /= n;
    return EXIT_OK;
}

int app_eval_audio_stats(int argc, char **argv) {
    app_list ref = {0}, gen = {0};
    int json = 0;
    app_opt opts[] = {APP_OPT_LIST("--reference", &ref, "REF.wav", "a held-out clip (repeatable; required)"),
                      APP_OPT_LIST("--generated", &gen, "GEN.wav", "a generated clip (repeatable; required)"),
                      APP_OPT_JSON(&json), APP_END};
    const app_cmd cmd = {"eval audio-stats", "--reference REF.wav [...] --generated GEN.wav [...] [--json]",
                         "Whether generated audio sounds like held-out audio in what a listener hears first: the mean chroma\n"
                         "of each set (the share of energy in each pitch class) and their L1 distance (0 to 2), the onsets a\n"
                         "second of each and their difference, and the level.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!ref.n || !gen.n) {
        app_list_free(&ref), app_list_free(&gen);
        return app_usage(&cmd, "give --reference and --generated clips");
    }
    cdz_audio_clip_stats a, b;
    rc = set_stats(&ref, &a, json, "reference");
    if (rc == EXIT_OK) rc = set_stats(&gen, &b, json, "generated");
    if (rc == EXIT_OK) {
        double l1 = 0;
        for (int k = 0; k < 12; k++) l1 += fabs(a.chroma[k] - b.chroma[k]);
        static const char *const PC[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
        if (json) {
            printf("{\"chroma_l1\":%.6f,\"onset_rate_reference\":%.4f,\"onset_rate_generated\":%.4f,\"level_db_reference\":%.2f,"
                   "\"level_db_generated\":%.2f,\"seconds_reference\":%.1f,\"seconds_generated\":%.1f}\n", l1, a.onset_rate,
                   b.onset_rate, a.rms_db, b.rms_db, a.seconds, b.seconds);
        } else {
            printf("chroma      ");
            for (int k = 0; k < 12; k++) printf("%6s", PC[k]);
            printf("\n  reference ");
            for (int k = 0; k < 12; k++) printf("%6.3f", a.chroma[k]);
            printf("\n  generated ");
            for (int k = 0; k < 12; k++) printf("%6.3f", b.chroma[k]);
            printf("\n  L1 distance %.3f (0: the same pitch classes; 2: none shared)\n", l1);
            printf("onsets/s    reference %.2f, generated %.2f (difference %+.2f)\n", a.onset_rate, b.onset_rate,
                   b.onset_rate - a.onset_rate);
            printf("level       reference %.1f dB, generated %.1f dB\n", a.rms_db, b.rms_db);
        }
    }
    app_list_free(&ref), app_list_free(&gen);
    return rc;
}

/* ---- audio encode / decode ---- */

/* The checkpoint ckpt, else the shipped model `name`, loaded into *m. */
static int load_checkpoint(const char *ckpt, const char *name, cdz_model **m) {
    char path[4096];
    if (!ckpt) {
        if (!app_find_model(name, path, sizeof path)) return EXIT_FAIL;
        ckpt = path;
    }
    cdz_error err = {0};
    if (cdz_checkpoint_load(ckpt, m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* The codec of --checkpoint, else the shipped one named by --model (default audio_codec). */
static int load_codec(const char *ckpt, const char *name, cdz_model **m) {
    if (!name) name = "audio_codec";
    if (load_checkpoint(ckpt, name, m) != EXIT_OK) return EXIT_FAIL;
    if (!cdz_audio_codec_shape_of(*m).hop) {
        app_error("%s is a %s model, not an audio_codec", ckpt ? ckpt : name, cdz_model_kind_name(*m));
        cdz_model_free(*m);
        *m = NULL;
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

#define CODEC_OPTS(ckpt, name)                                                                                              \
    APP_OPT_STRING("--checkpoint", ckpt, "CKPT", "an audio_codec checkpoint (cadenza train --model audio_codec)"),          \
        APP_OPT_STRING("--model", name, "NAME", "a shipped codec (default audio_codec; 'cadenza models')")

/* Codes (frames, books) as a .codes file of the codec's shape; samples: the source's length. */
static int write_codes(const char *path, cdz_audio_codec_shape sh, int books, const int32_t *codes, size_t frames,
                       size_t samples) {
    cdz_codes c = {sh, frames, samples, cdz_malloc((frames ? frames : 1) * (size_t)books * sizeof(uint16_t))};
    c.shape.books = books;
    cdz_error err = {0};
    int rc = EXIT_OK;
    if (!c.codes) {
        app_error("out of memory");
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < frames * (size_t)books; i++) c.codes[i] = (uint16_t)codes[i];
    if (cdz_codes_write(path, &c, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    }
    cdz_free(c.codes);
    return rc;
}

/* Mono float samples as a 16-bit WAV file, as they are (clipped samples counted and said). */
static int write_mono_wav(const char *path, const float *y, size_t n, uint32_t rate) {
    cdz_audio a = {0};
    cdz_render_report rep;
    cdz_error err = {0};
    int rc = EXIT_OK;
    if (cdz_audio_from_float(&a, y, n, 1, rate, 0, 0, &rep, &err) != CDZ_OK || cdz_wav_write(path, &a, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else if (rep.clipped) {
        fprintf(stderr, "note: %zu samples beyond full scale were clipped\n", rep.clipped);
    }
    cdz_audio_free(&a);
    return rc;
}

static int cmd_encode(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *ckpt = NULL, *name = NULL;
    double kbps = 0;
    long long books = 0;
    int force = 0;
    app_opt opts[] = {APP_ARG("IN.wav", &in, "the clip (any WAV: made mono at the codec's rate)"),
                      APP_OPT_STRING("--out", &out, "X.codes", "the codes to write (required)"),
                      APP_OPT_DOUBLE("--bitrate", &kbps, 0.01, 1000, "KBPS", "the bitrate: a whole number of codebooks (24 kHz, hop\n"
                                                                           "320, 1,024 entries: 0.75 kbps each; default all)"),
                      APP_OPT_LONG("--books", &books, 1, 64, "N", "the number of codebooks instead of --bitrate"),
                      CODEC_OPTS(&ckpt, &name), APP_OPT_FORCE(&force), APP_END};
    const app_cmd cmd = {"audio encode", "IN.wav --out X.codes [--bitrate KBPS] [--checkpoint CKPT]",
                         "Encodes a clip into the codes of an audio codec: one frame of codes per hop of samples, one code\n"
                         "per codebook. Fewer codebooks, a lower bitrate: their codes are the first of those of more.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!out) return app_usage(&cmd, "--out X.codes is required");
    if (kbps > 0 && books > 0) return app_usage(&cmd, "give --bitrate or --books, not both");
    if (!app_output_ok(out, force)) return EXIT_FAIL;
    cdz_model *m = NULL;
    if ((rc = load_codec(ckpt, name, &m)) != EXIT_OK) return rc;
    cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);
    int n_q = books > 0 ? (int)books : sh.books;
    if (kbps > 0) {
        double per = cdz_audio_codec_kbps(&sh, 1);
        n_q = (int)lround(kbps / per);
        if (n_q < 1 || n_q > sh.books || fabs(n_q * per - kbps) > 0.01 * kbps) {
            app_error("--bitrate %g: this codec codes at multiples of %.4g kbps, from %.4g to %.4g (%d books)", kbps, per, per,
                      per * sh.books, sh.books);
            cdz_model_free(m);
            return EXIT_USAGE;
        }
    }
    if (n_q > sh.books) {
        app_error("--books %d: the codec has %d", n_q, sh.books);
        cdz_model_free(m);
        return EXIT_USAGE;
    }
    uint32_t rate = sh.rate;
    float *x = NULL;
    size_t n = 0;
    rc = load_clip(in, &rate, &x, &n);
    int32_t *codes = NULL;
    size_t frames = 0;
    cdz_error err = {0};
    double t0 = app_now();
    if (rc == EXIT_OK && cdz_audio_codec_encode(m, x, n, n_q, &codes, &frames, &err) != CDZ_OK) {
        app_error("%s: %s", in, err.msg);
        rc = EXIT_FAIL;
    }
    double el = app_now() - t0;
    if (rc == EXIT_OK) rc = write_codes(out, sh, n_q, codes, frames, n);
    if (rc == EXIT_OK)
        printf("wrote %s: %.2f s, %zu frames x %d books (%.2f kbps), encoded in %.2f s (%.0fx real time)\n", out,
               (double)n / rate, frames, n_q, cdz_audio_codec_kbps(&sh, n_q), el, el > 0 ? (double)n / rate / el : 0);
    cdz_free(codes);
    cdz_free(x);
    cdz_model_free(m);
    return rc;
}

static int cmd_decode(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *ckpt = NULL, *name = NULL;
    int force = 0;
    app_opt opts[] = {APP_ARG("X.codes", &in, "codes written by 'cadenza audio encode' (or generated)"),
                      APP_OPT_STRING("--out", &out, "OUT.wav", "the clip to write, 16-bit mono (required)"),
                      CODEC_OPTS(&ckpt, &name), APP_OPT_FORCE(&force), APP_END};
    const app_cmd cmd = {"audio decode", "X.codes --out OUT.wav [--checkpoint CKPT]",
                         "Decodes an audio codec's codes back into sound, with the codec that made them.", opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!out) return app_usage(&cmd, "--out OUT.wav is required");
    if (!app_output_ok(out, force)) return EXIT_FAIL;
    cdz_codes c;
    cdz_error err = {0};
    if (cdz_codes_read(in, &c, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_model *m = NULL;
    if ((rc = load_codec(ckpt, name, &m)) != EXIT_OK) {
        cdz_codes_free(&c);
        return rc;
    }
    cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);
    if (c.shape.rate != sh.rate || c.shape.hop != sh.hop || c.shape.codebook != sh.codebook || c.shape.books > sh.books) {
        app_error("%s holds codes of %d books of %d at hop %d, %u Hz; the codec has %d books of %d at hop %d, %u Hz: decode "
                  "with the codec that encoded it", in, c.shape.books, c.shape.codebook, c.shape.hop, c.shape.rate, sh.books,
                  sh.codebook, sh.hop, sh.rate);
        cdz_codes_free(&c);
        cdz_model_free(m);
        return EXIT_FAIL;
    }
    size_t total = (size_t)c.frames * (size_t)c.shape.books;
    int32_t *codes = cdz_malloc((total ? total : 1) * sizeof *codes);
    float *y = NULL;
    size_t n = 0;
    double t0 = app_now();
    if (!codes) {
        app_error("out of memory");
        rc = EXIT_FAIL;
    }
    for (size_t i = 0; rc == EXIT_OK && i < total; i++) codes[i] = c.codes[i];
    if (rc == EXIT_OK && cdz_audio_codec_decode(m, codes, (size_t)c.frames, c.shape.books, &y, &n, &err) != CDZ_OK) {
        app_error("%s: %s", in, err.msg);
        rc = EXIT_FAIL;
    }
    double el = app_now() - t0;
    if (rc == EXIT_OK) {
        if (c.samples && c.samples < n) n = (size_t)c.samples; /* the source's length, not the last frame's padding */
        rc = write_mono_wav(out, y, n, sh.rate);
        if (rc == EXIT_OK)
            printf("wrote %s: %.2f s at %u Hz from %d books (%.2f kbps), decoded in %.2f s (%.0fx real time)\n", out,
                   (double)n / sh.rate, sh.rate, c.shape.books, cdz_audio_codec_kbps(&sh, c.shape.books), el,
                   el > 0 ? (double)n / sh.rate / el : 0);
    }
    cdz_free(y);
    cdz_free(codes);
    cdz_codes_free(&c);
    cdz_model_free(m);
    return rc;
}

/* ---- audio tokens: the prior's dataset ---- */

static void clip_progress(void *ctx, size_t done, size_t total) {
    (void)ctx;
    if (isatty(2)) fprintf(stderr, "\r  %zu/%zu clips", done, total);
    if (isatty(2) && done == total) fputc('\n', stderr);
}

static int cmd_tokens(int argc, char **argv) {
    const char *out = NULL, *ckpt = NULL, *name = NULL;
    app_list data = {0}, styles = {0};
    long long books = 2;
    int force = 0;
    app_opt opts[] = {APP_OPT_LIST("--data", &data, "AUDIO.cdz", "an audio dataset (cadenza dataset build --audio); repeatable\n"
                                                                "(required)"),
                      APP_OPT_LIST("--style", &styles, "NAME", "the style of each --data's clips, in order (default pop;\n"
                                                                "pop, classical, baroque, romantic, jazz, folk, choral, other)"),
                      APP_OPT_STRING("--out", &out, "PRIOR.cdz", "the token dataset to write (required)"),
                      APP_OPT_LONG("--books", &books, 1, 64, "N", "codebooks per frame (default 2: the audio_prior config's)"),
                      CODEC_OPTS(&ckpt, &name), APP_OPT_FORCE(&force), APP_END};
    const app_cmd cmd = {"audio tokens", "--data AUDIO.cdz [--style NAME] [--data ... --style ...] --out PRIOR.cdz [--books N]",
                         "Encodes every clip of audio datasets with an audio codec into the tokens an audio prior trains on\n"
                         "(cadenza train --model music_transformer --config audio_prior): the clip's style token, then each\n"
                         "frame's codes, book by book. The splits are the audio datasets'.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    int ids[64];
    const cdz_dataset *ptrs[64];
    cdz_dataset ds[64];
    int opened = 0;
    if (!data.n || !out) rc = app_usage(&cmd, "--data and --out are required");
    else if (data.n > 64) rc = app_usage(&cmd, "at most 64 --data");
    else if (styles.n && styles.n != data.n) rc = app_usage(&cmd, "%d --style for %d --data: one each, in order", styles.n, data.n);
    for (int i = 0; rc == APP_GO_ON && i < data.n; i++) {
        const char *sname = styles.n ? styles.v[i] : "pop";
        if ((ids[i] = cdz_audio_prior_style_find(sname)) < 0)
            rc = app_usage(&cmd, "--style %s: the styles are pop, classical, baroque, romantic, jazz, folk, choral, other", sname);
    }
    if (rc == APP_GO_ON && !app_output_ok(out, force)) rc = EXIT_FAIL;
    cdz_model *m = NULL;
    if (rc == APP_GO_ON && (rc = load_codec(ckpt, name, &m)) == EXIT_OK) rc = APP_GO_ON;
    cdz_error err = {0};
    for (int i = 0; rc == APP_GO_ON && i < data.n; i++, opened++) {
        if (cdz_dataset_open(&ds[i], data.v[i], &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
            break;
        }
        ptrs[i] = &ds[i];
    }
    if (rc == APP_GO_ON) {
        rc = EXIT_OK;
        size_t frames[3];
        double t0 = app_now();
        cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);
        if (cdz_audio_prior_dataset(m, ptrs, ids, data.n, (int)books, out, frames, clip_progress, NULL, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            cdz_audio_prior_layout L = {(int)books, sh.codebook};
            double fps = (double)sh.rate / sh.hop;
            size_t clips = 0;
            for (int i = 0; i < data.n; i++) clips += (size_t)ds[i].n_seqs;
            printf("wrote %s: %zu clips of %d dataset(s), vocabulary %u (%lld books of %d codes + %d styles), in %.1f s\n", out,
                   clips, data.n, cdz_audio_prior_vocab(&L), books, sh.codebook, CDZ_AUDIO_PRIOR_STYLES, app_now() - t0);
            printf("  tokens  train %zu, eval %zu, test %zu (%.0f a second of audio, and a style token a clip)\n",
                   frames[0] * (size_t)books, frames[1] * (size_t)books, frames[2] * (size_t)books, fps * (double)books);
            printf("  hours   train %.3f, eval %.3f, test %.3f\n", frames[0] / fps / 3600, frames[1] / fps / 3600,
                   frames[2] / fps / 3600);
        }
    }
    for (int i = 0; i < opened; i++) cdz_dataset_close(&ds[i]);
    cdz_model_free(m);
    app_list_free(&data), app_list_free(&styles);
    return rc;
}

/* ---- audio generate ---- */

typedef struct gen_progress {
    double start;
    int tty;
} gen_progress;

static void frame_progress(void *ctx, size_t done, size_t total) {
    gen_progress *g = ctx;
    if (g->tty && (done % 75 == 0 || done == total)) fprintf(stderr, "\r  %zu/%zu frames", done, total);
    if (g->tty && done == total) fputc('\n', stderr);
}

static int cmd_generate_audio(int argc, char **argv) {
    const char *out = NULL, *prior_ckpt = NULL, *codec_ckpt = NULL, *style = "pop", *primer = NULL, *codes_out = NULL;
    double seconds = 10, primer_s = 0;
    long long seed = 1;
    int force = 0;
    cdz_sample_params sp = cdz_sample_default_params();
    app_opt opts[] = {APP_OPT_STRING("--out", &out, "OUT.wav", "the clip to write, 16-bit mono (required)"),
                      APP_OPT_DOUBLE("--seconds", &seconds, 0.1, 3600, "S", "the clip's length, primer included (default 10)"),
                      APP_OPT_STRING("--style", &style, "NAME", "the style token (default pop)"),
                      APP_OPT_STRING("--primer", &primer, "IN.wav", "go on from this clip (any WAV), encoded by the codec"),
                      APP_OPT_DOUBLE("--primer-seconds", &primer_s, 0.01, 3600, "S", "use the primer's first S seconds (default: all,\n"
                                                                                    "up to --seconds)"),
                      APP_OPT_STRING("--prior", &prior_ckpt, "CKPT", "the prior (default the shipped audio_prior)"),
                      APP_OPT_STRING("--codec", &codec_ckpt, "CKPT", "the codec whose codes the prior writes (default the\n"
                                                                     "shipped audio_codec_small, the shipped prior's codec)"),
                      APP_OPT_STRING("--codes", &codes_out, "X.codes", "also write the generated codes"),
                      APP_SAMPLING_OPTS(&sp, &seed), APP_OPT_FORCE(&force), APP_END};
    const app_cmd cmd = {"audio generate", "--out OUT.wav [--seconds S] [--style NAME] [--primer IN.wav] [options]",
                         "Generates music as sound: an audio prior draws a codec's codes frame by frame, and the codec's\n"
                         "decoder turns them into audio (docs/audio_model.md). 'cadenza plot --spectrogram OUT.wav' draws it.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!out) return app_usage(&cmd, "--out OUT.wav is required");
    int st_id = cdz_audio_prior_style_find(style);
    if (st_id < 0) return app_usage(&cmd, "--style %s: the styles are pop, classical, baroque, romantic, jazz, folk, choral, other", style);
    if (primer_s > 0 && !primer) return app_usage(&cmd, "--primer-seconds goes with --primer");
    if (!app_output_ok(out, force) || (codes_out && !app_output_ok(codes_out, force))) return EXIT_FAIL;
    cdz_model *codec = NULL, *prior = NULL;
    /* the shipped prior learned the codes of audio_codec_small (docs/audio_model.md says why it was not
     * retrained on audio_codec's) */
    if ((rc = load_codec(codec_ckpt, "audio_codec_small", &codec)) != EXIT_OK) return rc;
    if ((rc = load_checkpoint(prior_ckpt, "audio_prior", &prior)) != EXIT_OK) {
        cdz_model_free(codec);
        return rc;
    }
    cdz_error err = {0};
    cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(codec);
    cdz_audio_prior_layout L;
    float *x = NULL, *y = NULL;
    int32_t *pcodes = NULL, *codes = NULL;
    size_t n = 0, pframes = 0, ny = 0;
    const size_t frames = (size_t)ceil(seconds * sh.rate / sh.hop);
    double t_prior = 0, t_dec = 0;
    if (cdz_audio_prior_layout_of(prior, &sh, &L, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
        goto done;
    }
    if (primer) {
        uint32_t rate = sh.rate;
        if ((rc = load_clip(primer, &rate, &x, &n)) != EXIT_OK) goto done;
        size_t keep = primer_s > 0 ? (size_t)(primer_s * sh.rate) : n;
        if (keep > n) {
            fprintf(stderr, "note: %s is %.2f s long: all of it is the primer\n", primer, (double)n / sh.rate);
            keep = n;
        }
        if (keep > frames * (size_t)sh.hop) {
            fprintf(stderr, "note: the primer's first %.2f s (--seconds) are used\n", seconds);
            keep = frames * (size_t)sh.hop;
        }
        if (cdz_audio_codec_encode(codec, x, keep, L.books, &pcodes, &pframes, &err) != CDZ_OK) {
            app_error("%s: %s", primer, err.msg);
            rc = EXIT_FAIL;
            goto done;
        }
    }
    codes = cdz_malloc(frames * (size_t)L.books * sizeof *codes);
    if (!codes) {
        app_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)seed);
    gen_progress gp = {app_now(), isatty(2)};
    double t0 = app_now();
    if (cdz_audio_prior_generate(prior, &L, st_id, pcodes, pframes, frames, &sp, &rng, codes, frame_progress, &gp, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
        goto done;
    }
    t_prior = app_now() - t0;
    t0 = app_now();
    if (cdz_audio_codec_decode(codec, codes, frames, L.books, &y, &ny, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
        goto done;
    }
    t_dec = app_now() - t0;
    if ((rc = write_mono_wav(out, y, ny, sh.rate)) != EXIT_OK) goto done;
    if (codes_out) rc = write_codes(codes_out, sh, L.books, codes, frames, ny);
    if (rc == EXIT_OK) {
        double secs = (double)ny / sh.rate;
        char what[96] = ", no primer";
        if (primer) snprintf(what, sizeof what, ", %.2f s of primer", (double)pframes * sh.hop / sh.rate);
        printf("wrote %s: %.2f s at %u Hz (%s, %d books%s), in %.2f s: prior %.2f s, decoder %.2f s (%.2f s of audio a "
               "second)\n", out, secs, sh.rate, style, L.books, what, t_prior + t_dec, t_prior, t_dec, secs / (t_prior + t_dec));
    }
done:
    cdz_free(x), cdz_free(y), cdz_free(pcodes), cdz_free(codes);
    cdz_model_free(codec);
    cdz_model_free(prior);
    return rc;
}

int cmd_audio(int argc, char **argv) {
    static const app_sub subs[] = {
        {"encode", cmd_encode, "IN.wav --out X.codes [--bitrate KBPS]: a clip to an audio codec's codes"},
        {"decode", cmd_decode, "X.codes --out OUT.wav: codes back to sound"},
        {"tokens", cmd_tokens, "--data AUDIO.cdz --out PRIOR.cdz: an audio prior's dataset of codec tokens"},
        {"generate", cmd_generate_audio, "--out OUT.wav [--seconds S] [--style NAME] [--primer IN.wav]: music as\n"
                                         "sound from an audio prior and its codec"},
    };
    return app_dispatch("audio", "cadenza audio: sound as codes, with a neural audio codec (docs/audio_model.md)\n", subs,
                        sizeof subs / sizeof *subs, NULL, argc, argv);
}
