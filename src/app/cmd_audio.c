/* cadenza eval audio: DAC's distances between a reference clip and a decoded or generated one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cadenza/audio.h"
#include "cadenza/audio_metrics.h"

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
