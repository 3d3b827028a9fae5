/* DAC's audio distances (cadenza/audio_metrics.h) against values worked by hand: the mel scale and a
 * filter bank small enough to compute on paper, a constant signal's STFT, SI-SDR of an estimate with
 * orthogonal noise of known energy, and the distances of a signal from itself and from half of it. */
#include <math.h>

#include "cadenza/audio_metrics.h"
#include "cadenza/plot.h"
#include "test.h"

static float *noise(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * (2 * cdz_rng_uniform(&r) - 1));
    return x;
}

static void test_mel_scale(void) {
    CHECK(fabs(cdz_hz_to_mel(1000) - 15) < 1e-12 && fabs(cdz_hz_to_mel(500) - 7.5) < 1e-12, "1 kHz is mel 15, 500 Hz 7.5");
    CHECK(fabs(cdz_hz_to_mel(6400) - 42) < 1e-9, "6.4 kHz is mel 15 + 27 (%g)", cdz_hz_to_mel(6400));
    double worst = 0;
    for (double f = 10; f < 24000; f *= 1.37) worst = fmax(worst, fabs(cdz_mel_to_hz(cdz_hz_to_mel(f)) - f) / f);
    CHECK(worst < 1e-12, "mel to Hz inverts Hz to mel (%.3g)", worst);
    /* 8 kHz, n_fft 8, one mel: bins at 0, 1, 2, 3, 4 kHz; edges at mel 0, 17.58, 35.16 = 0, 1194.24,
     * 4000 Hz; w(f) = min(f / 1194.24, (4000 - f) / 2805.76) * 2 / 4000 */
    float w[5];
    cdz_mel_filters(w, 8000, 8, 1);
    const double want[5] = {0, 0.000418676794, 0.000356409497, 0.000178204749, 0};
    double e = 0;
    for (int k = 0; k < 5; k++) e = fmax(e, fabs(w[k] - want[k]));
    CHECK(e < 1e-9, "the one-filter bank by hand: %g %g %g %g %g", w[0], w[1], w[2], w[3], w[4]);
    /* Slaney's normalisation: each triangle has unit area in Hz (checked on a fine grid) */
    enum { NFFT = 4096, M = 40, BINS = NFFT / 2 + 1 };
    float *fb = malloc((size_t)M * BINS * sizeof *fb);
    cdz_mel_filters(fb, 24000, NFFT, M);
    double worst_area = 0;
    for (int m = 0; m < M; m++) {
        double area = 0;
        for (int k = 0; k < BINS; k++) area += fb[(size_t)m * BINS + k] * (24000.0 / NFFT);
        worst_area = fmax(worst_area, fabs(area - 1));
    }
    CHECK(worst_area < 0.05, "every filter's area is 1 (worst off by %.3f)", worst_area);
    free(fb);
}

static void test_stft(void) {
    cdz_error err = {0};
    float x[64], *mag = NULL;
    int frames = 0;
    for (int i = 0; i < 64; i++) x[i] = 1;
    if (!cdz_audio_metrics_available()) {
        CHECK(cdz_stft_magnitude(x, 64, 16, 4, &mag, &frames, &err) == CDZ_ERR_UNSUPPORTED && strstr(err.msg, "libkissfft-dev"),
              "without KissFFT: refused, saying what to install");
        printf("SKIPPED: spectral checks (built without KissFFT: apt-get install libkissfft-dev, then rebuild)\n");
        return;
    }
    /* a constant: every frame is the periodic Hann window, whose DFT is N/2 at DC, N/4 at bin 1, 0 else */
    CHECK(cdz_stft_magnitude(x, 64, 16, 4, &mag, &frames, &err) == CDZ_OK, "%s", err.msg);
    CHECK_INT(frames, 17);
    double e = 0;
    for (int f = 0; f < frames; f++)
        for (int k = 0; k < 9; k++) e = fmax(e, fabs(mag[f * 9 + k] - (k == 0 ? 8.0 : k == 1 ? 4.0 : 0.0)));
    CHECK(e < 1e-5, "a constant's spectrum: DC 8, bin 1 4, the rest 0 (worst %.3g)", e);
    cdz_free(mag);
    /* a cosine on bin 4 of a 32-point window: |X[4]| = N/4 = 8 in the frames clear of the ends */
    float c[256];
    for (int i = 0; i < 256; i++) c[i] = (float)cos(2 * 3.14159265358979323846 * 4 * i / 32);
    CHECK(cdz_stft_magnitude(c, 256, 32, 8, &mag, &frames, &err) == CDZ_OK && frames == 33, "%s", err.msg);
    CHECK(fabs(mag[16 * 17 + 4] - 8) < 1e-4 && fabs(mag[16 * 17 + 3] - 4) < 1e-4 && mag[16 * 17 + 8] < 1e-4,
          "a cosine on bin 4: %g (8), bin 3 %g (4)", mag[16 * 17 + 4], mag[16 * 17 + 3]);
    cdz_free(mag);
    CHECK(cdz_stft_magnitude(x, 8, 16, 4, &mag, &frames, &err) == CDZ_ERR_ARG && strstr(err.msg, "too short"), "too short: %s",
          err.msg);
    CHECK(cdz_stft_magnitude(x, 64, 15, 4, &mag, &frames, &err) == CDZ_ERR_ARG, "an odd window refused");
}

static void test_distances(void) {
    const size_t n = 24000;
    float *x = noise(n, 3), *half = malloc(n * sizeof *half);
    for (size_t i = 0; i < n; i++) half[i] = 0.5f * x[i];
    /* SI-SDR by hand: ref (1, -1, 1, -1), estimate ref + 0.1 (1, 1, -1, -1), orthogonal to it and zero
     * mean: the scale is 1, signal 4, noise 0.04: 20 dB; the same for 3 times the estimate or an offset */
    const float r4[4] = {1, -1, 1, -1}, g4[4] = {1.1f, -0.9f, 0.9f, -1.1f};
    float g4b[4];
    CHECK(fabs(cdz_si_sdr(r4, g4, 4) - 20) < 1e-4, "SI-SDR 20 dB (%.6f)", cdz_si_sdr(r4, g4, 4));
    for (int i = 0; i < 4; i++) g4b[i] = 3 * g4[i] + 0.7f;
    CHECK(fabs(cdz_si_sdr(r4, g4b, 4) - 20) < 1e-4, "scale and offset invariant (%.6f)", cdz_si_sdr(r4, g4b, 4));
    CHECK(cdz_si_sdr(x, half, n) > 80, "a scaled copy: over 80 dB (%.1f)", cdz_si_sdr(x, half, n));
    CHECK(isinf(cdz_si_sdr(x, x, n)), "itself: infinite");
    if (!cdz_audio_metrics_available()) {
        free(x), free(half);
        return;
    }
    cdz_error err = {0};
    double d;
    CHECK(cdz_mel_distance(x, x, n, 24000, &d, &err) == CDZ_OK && d == 0, "mel distance to itself 0 (%g) %s", d, err.msg);
    CHECK(cdz_stft_distance(x, x, n, &d, &err) == CDZ_OK && d == 0, "STFT distance to itself 0 (%g)", d);
    /* half the signal: every log mel differs by log10 2 in each of 7 scales; the STFT's log term by
     * 2 log10 2 in each of 2, plus the mean magnitude difference (half the mean magnitude) */
    CHECK(cdz_mel_distance(x, half, n, 24000, &d, &err) == CDZ_OK && fabs(d - 7 * log10(2)) < 1e-3, "mel: %.5f (7 log10 2 = %.5f)",
          d, 7 * log10(2));
    float *m1 = NULL, *m2 = NULL;
    int f1, f2;
    cdz_stft_magnitude(x, n, 2048, 512, &m1, &f1, &err);
    cdz_stft_magnitude(x, n, 512, 128, &m2, &f2, &err);
    double mean1 = 0, mean2 = 0;
    for (size_t i = 0; i < (size_t)f1 * 1025; i++) mean1 += m1[i];
    for (size_t i = 0; i < (size_t)f2 * 257; i++) mean2 += m2[i];
    mean1 /= (double)f1 * 1025, mean2 /= (double)f2 * 257;
    double want = 2 * 2 * log10(2) + 0.5 * mean1 + 0.5 * mean2;
    CHECK(cdz_stft_distance(x, half, n, &d, &err) == CDZ_OK && fabs(d - want) < 1e-3 * want, "STFT: %.5f (%.5f)", d, want);
    cdz_free(m1), cdz_free(m2);
    CHECK(cdz_mel_distance(x, half, 1000, 24000, &d, &err) == CDZ_ERR_ARG, "a clip shorter than the largest window refused");
    free(x), free(half);
}

/* The spectrogram picture: a 3 kHz sine is brightest on the 3 kHz row. */
static void test_spectrogram(void) {
    enum { N = 24000, W = 400, H = 300 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) x[i] = (float)(0.5 * sin(2 * 3.14159265358979323846 * 3000.0 * i / 24000));
    cdz_canvas c;
    cdz_error err = {0};
    cdz_status st = cdz_plot_spectrogram(&c, x, N, 24000, "sine", W, H, &err);
    if (!cdz_audio_metrics_available()) {
        CHECK(st == CDZ_ERR_UNSUPPORTED, "spectrogram without KissFFT refused");
        free(x);
        return;
    }
    CHECK(st == CDZ_OK && c.width == W && c.height == H, "%s", err.msg);
    if (st == CDZ_OK) {
        int best = 0, best_y = -1;
        /* within the plot area (the labels below it are bright too) */
        for (int y = cdz_plot_spectrogram_row(H, 12000, 24000); y <= cdz_plot_spectrogram_row(H, 0, 24000); y++) {
            cdz_rgb p = cdz_canvas_get(&c, W / 2, y);
            int v = p.r + p.g + p.b;
            if (v > best) best = v, best_y = y;
        }
        int want = cdz_plot_spectrogram_row(H, 3000, 24000);
        CHECK(abs(best_y - want) <= 2, "the brightest row %d, 3 kHz at %d", best_y, want);
        cdz_canvas_free(&c);
    }
    CHECK(cdz_plot_spectrogram(&c, x, N, 24000, "x", 60, 60, &err) == CDZ_ERR_ARG && strstr(err.msg, "too small"), "too small: %s",
          err.msg);
    CHECK(cdz_plot_spectrogram(&c, x, 100, 24000, "x", W, H, &err) == CDZ_ERR_ARG && strstr(err.msg, "too short"), "too short");
    free(x);
}

/* The spectral losses' gradients against central differences (float spectra: steps of 1e-4, since the
 * log terms curve sharply near small magnitudes, and a tolerance of 10%: a wrong term is off by far more), their values equal to the distances', and a step along minus the
 * gradient lowering the loss. */
static void test_spectral_gradients(void) {
    enum { N = 1536 };
    float *ref = noise(N, 11), *gen = noise(N, 12), *dgen = calloc(N, sizeof *dgen);
    for (int i = 0; i < N; i++) ref[i] += (float)(0.4 * sin(i * 0.07)), gen[i] = 0.5f * gen[i] + 0.3f * ref[i];
    cdz_spectral_plan *p = NULL;
    cdz_error err = {0};
    cdz_status st = cdz_spectral_plan_new(&p, 24000, &err);
    if (!cdz_audio_metrics_available()) {
        CHECK(st == CDZ_ERR_UNSUPPORTED, "no FFT: plan refused");
        free(ref), free(gen), free(dgen);
        return;
    }
    double mel = 0, stft = 0, mel1 = 0, stft1 = 0;
    CHECK(st == CDZ_OK && cdz_spectral_loss(p, ref, gen, N, 1.0f, 0.5f, dgen, &mel, &stft, &err) == CDZ_OK, "%s", err.msg);
    cdz_mel_distance(ref, gen, N, 24000, &mel1, &err);
    cdz_stft_distance(ref, gen, N, &stft1, &err);
    CHECK(fabs(mel - mel1) < 1e-9 && fabs(stft - stft1) < 1e-9, "loss values are the distances (%g %g, %g %g)", mel, mel1, stft, stft1);
    int bad = 0;
    double worst = 0;
    const int at[] = {0, 1, 5, 100, 511, 700, 767, 1000, 1300, 1530, 1535};
    for (size_t t = 0; t < sizeof at / sizeof *at; t++) {
        int i = at[t];
        float keep = gen[i];
        double lp[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            gen[i] = keep + (sgn ? -1e-4f : 1e-4f);
            double m, s2;
            cdz_spectral_loss(p, ref, gen, N, 1, 0.5f, NULL, &m, &s2, &err);
            lp[sgn] = m + 0.5 * s2;
        }
        gen[i] = keep;
        double fd = (lp[0] - lp[1]) / 2e-4, e = fabs(fd - dgen[i]) / fmax(2e-2, fabs(fd));
        worst = fmax(worst, e);
        if (e > 0.1) bad++, printf("  sample %d: analytic %g, difference %g\n", i, dgen[i], fd);
    }
    CHECK(bad == 0, "spectral loss gradient by finite differences (worst relative error %.3g)", worst);
    double norm = 0;
    for (int i = 0; i < N; i++) norm += (double)dgen[i] * dgen[i];
    for (int i = 0; i < N; i++) gen[i] -= (float)(1e-3 / sqrt(norm)) * dgen[i];
    double m2, s3;
    cdz_spectral_loss(p, ref, gen, N, 1, 0.5f, NULL, &m2, &s3, &err);
    CHECK(m2 + 0.5 * s3 < mel + 0.5 * stft, "a step down the gradient lowers the loss (%g to %g)", mel + 0.5 * stft, m2 + 0.5 * s3);
    CHECK(cdz_spectral_loss(p, ref, gen, 1000, 1, 1, NULL, &m2, NULL, &err) == CDZ_ERR_ARG, "1,000 samples refused: %s", err.msg);
    cdz_spectral_plan_free(p);
    free(ref), free(gen), free(dgen);
}

/* A 440 Hz tone's chroma is A; clicks four times a second are four onsets a second. */
static void test_clip_stats(void) {
    enum { N = 24000 * 5 };
    float *x = calloc(N, sizeof *x);
    for (int i = 0; i < N; i++) x[i] = (float)(0.5 * sin(2 * 3.14159265358979 * 440 * i / 24000.0));
    cdz_audio_clip_stats st;
    cdz_error err = {0};
    cdz_status r = cdz_audio_stats(x, N, 24000, &st, &err);
    if (!cdz_audio_metrics_available()) {
        CHECK(r == CDZ_ERR_UNSUPPORTED, "no FFT: refused");
        free(x);
        return;
    }
    CHECK(r == CDZ_OK && st.chroma[9] > 0.9, "440 Hz is A: %.3f", st.chroma[9]);
    CHECK(fabs(st.rms_db - 10 * log10(0.125)) < 0.05, "level of a 0.5 sine: %.2f dB", st.rms_db);
    for (int i = 0; i < N; i++) x[i] = 0.001f * (float)sin(i * 0.3);
    for (int c = 0; c < 20; c++) /* 20 clicks in 5 s, each a 5 ms burst of a 2 kHz tone */
        for (int i = 0; i < 120; i++) x[c * 6000 + 3000 + i] += (float)(0.8 * sin(2 * 3.14159265358979 * 2000 * i / 24000.0));
    r = cdz_audio_stats(x, N, 24000, &st, &err);
    CHECK(r == CDZ_OK && fabs(st.onset_rate - 4.0) < 0.5, "four clicks a second: %.2f onsets/s", st.onset_rate);
    CHECK(cdz_audio_stats(x, 4000, 24000, &st, &err) == CDZ_ERR_ARG, "too short: %s", err.msg);
    free(x);
}

int main(void) {
    test_clip_stats();
    test_spectral_gradients();
    test_mel_scale();
    test_stft();
    test_distances();
    test_spectrogram();
    return test_summary("test_audio_metrics");
}
