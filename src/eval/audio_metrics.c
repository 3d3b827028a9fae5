/* DAC's audio distances (cadenza/audio_metrics.h): STFT magnitudes through KissFFT's real FFT,
 * librosa's mel filters, and the scale-invariant SDR. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_metrics.h"

#ifdef CDZ_HAVE_KISSFFT
#include <kiss_fftr.h>
#endif

static const double PI = 3.14159265358979323846;

int cdz_audio_metrics_available(void) {
#ifdef CDZ_HAVE_KISSFFT
    return 1;
#else
    return 0;
#endif
}

#ifndef CDZ_HAVE_KISSFFT
static cdz_status no_fft(cdz_error *err) {
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                         "this build has no FFT for spectral measures: apt-get install libkissfft-dev (or make deps), then rebuild");
}
#endif

/* x reflected about its ends as numpy's and torch's "reflect": index i of the padded signal, pad before. */
static float reflected(const float *x, size_t n, long long i) {
    while (i < 0 || i >= (long long)n) i = i < 0 ? -i : 2 * ((long long)n - 1) - i;
    return x[i];
}

cdz_status cdz_stft_magnitude(const float *x, size_t n, int win, int hop, float **mag, int *frames, cdz_error *err) {
    *mag = NULL, *frames = 0;
    if (win < 2 || win % 2 || hop < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "an STFT window of %d and hop of %d (an even window, a positive hop)", win, hop);
    if (n <= (size_t)win / 2 || n < 2)
        return cdz_error_set(err, CDZ_ERR_ARG, "%zu samples: too short for a window of %d (more than %d needed)", n, win, win / 2);
#ifndef CDZ_HAVE_KISSFFT
    (void)x;
    return no_fft(err);
#else
    const int bins = win / 2 + 1, F = (int)(1 + n / (size_t)hop);
    float *out = cdz_malloc((size_t)F * bins * sizeof *out), *frame = cdz_malloc((size_t)win * sizeof *frame),
          *hann = cdz_malloc((size_t)win * sizeof *hann);
    kiss_fft_cpx *spec = cdz_malloc((size_t)bins * sizeof *spec);
    kiss_fftr_cfg cfg = kiss_fftr_alloc(win, 0, NULL, NULL);
    cdz_status st = CDZ_OK;
    if (!out || !frame || !hann || !spec || !cfg) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for an STFT of %d frames", F);
    for (int i = 0; !st && i < win; i++) hann[i] = (float)(0.5 - 0.5 * cos(2 * PI * i / win)); /* periodic */
    for (int f = 0; !st && f < F; f++) {
        long long start = (long long)f * hop - win / 2;
        for (int i = 0; i < win; i++) frame[i] = reflected(x, n, start + i) * hann[i];
        kiss_fftr(cfg, frame, spec);
        for (int k = 0; k < bins; k++) out[(size_t)f * bins + k] = (float)hypot(spec[k].r, spec[k].i);
    }
    kiss_fftr_free(cfg);
    cdz_free(frame), cdz_free(hann), cdz_free(spec);
    if (st) {
        cdz_free(out);
        return st;
    }
    *mag = out, *frames = F;
    return CDZ_OK;
#endif
}

double cdz_hz_to_mel(double hz) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000, min_log_mel = min_log_hz / f_sp, logstep = log(6.4) / 27;
    return hz >= min_log_hz ? min_log_mel + log(hz / min_log_hz) / logstep : hz / f_sp;
}

double cdz_mel_to_hz(double mel) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000, min_log_mel = min_log_hz / f_sp, logstep = log(6.4) / 27;
    return mel >= min_log_mel ? min_log_hz * exp(logstep * (mel - min_log_mel)) : f_sp * mel;
}

void cdz_mel_filters(float *weights, int rate, int n_fft, int n_mels) {
    const int bins = n_fft / 2 + 1;
    const double top = cdz_hz_to_mel(rate / 2.0);
    for (int m = 0; m < n_mels; m++) {
        /* the filter's edges and centre: points m, m + 1, m + 2 of linspace(mel(0), mel(rate / 2), n_mels + 2) */
        const double lo = cdz_mel_to_hz(top * m / (n_mels + 1)), mid = cdz_mel_to_hz(top * (m + 1) / (n_mels + 1)),
                     hi = cdz_mel_to_hz(top * (m + 2) / (n_mels + 1)), enorm = 2.0 / (hi - lo);
        for (int k = 0; k < bins; k++) {
            double f = (double)rate / 2.0 * k / (bins - 1); /* linspace(0, rate / 2, bins) */
            double lower = (f - lo) / (mid - lo), upper = (hi - f) / (hi - mid);
            double w = fmin(lower, upper);
            weights[(size_t)m * bins + k] = (float)(w > 0 ? w * enorm : 0.0);
        }
    }
}

/* The mean of |f(a) - f(b)| over n values, f(v) = log10(max(v, eps)^pow). */
static double log_l1(const float *a, const float *b, size_t n, double pw) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(pw * log10(fmax(a[i], 1e-5)) - pw * log10(fmax(b[i], 1e-5)));
    return n ? s / (double)n : 0;
}

static double l1(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs((double)a[i] - b[i]);
    return n ? s / (double)n : 0;
}

/* mel (frames, n_mels) = mag (frames, bins) @ weights^T, each filter summed over the bins where it is
 * not zero (a triangle a few bins wide: the full product took minutes on a song) */
static void apply_mel(float *mel, const float *mag, const float *w, int frames, int bins, int n_mels) {
    for (int m = 0; m < n_mels; m++) {
        const float *wm = w + (size_t)m * bins;
        int k0 = 0, k1 = bins - 1;
        while (k0 < bins && wm[k0] == 0) k0++;
        while (k1 >= k0 && wm[k1] == 0) k1--;
        for (int f = 0; f < frames; f++) {
            const float *row = mag + (size_t)f * bins;
            double s = 0;
            for (int k = k0; k <= k1; k++) s += (double)row[k] * wm[k];
            mel[(size_t)f * n_mels + m] = (float)s;
        }
    }
}

/* The magnitude spectrograms of both clips at one window (hop a quarter of it, as DAC), the same
 * number of frames each. */
static cdz_status both_spectra(const float *ref, const float *gen, size_t n, int win, float **a, float **b, int *frames,
                               cdz_error *err) {
    int fb = 0;
    *a = *b = NULL;
    cdz_status st = cdz_stft_magnitude(ref, n, win, win / 4, a, frames, err);
    if (!st) st = cdz_stft_magnitude(gen, n, win, win / 4, b, &fb, err);
    return st;
}

cdz_status cdz_mel_distance(const float *ref, const float *gen, size_t n, int rate, double *out, cdz_error *err) {
    static const int wins[7] = {32, 64, 128, 256, 512, 1024, 2048}, mels[7] = {5, 10, 20, 40, 80, 160, 320};
    *out = 0;
    if (rate <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of %d", rate);
    double total = 0;
    for (int s = 0; s < 7; s++) {
        float *a = NULL, *b = NULL;
        int fa = 0;
        cdz_status st = both_spectra(ref, gen, n, wins[s], &a, &b, &fa, err);
        const int bins = wins[s] / 2 + 1;
        float *w = st ? NULL : cdz_malloc((size_t)mels[s] * bins * sizeof *w);
        float *ma = st ? NULL : cdz_malloc((size_t)fa * mels[s] * sizeof *ma), *mb = st ? NULL : cdz_malloc((size_t)fa * mels[s] * sizeof *mb);
        if (!st && (!w || !ma || !mb)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for mel spectrograms");
        if (!st) {
            cdz_mel_filters(w, rate, wins[s], mels[s]);
            apply_mel(ma, a, w, fa, bins, mels[s]);
            apply_mel(mb, b, w, fa, bins, mels[s]);
            total += log_l1(ma, mb, (size_t)fa * mels[s], 1.0);
        }
        cdz_free(a), cdz_free(b), cdz_free(w), cdz_free(ma), cdz_free(mb);
        if (st) return st;
    }
    *out = total;
    return CDZ_OK;
}

cdz_status cdz_stft_distance(const float *ref, const float *gen, size_t n, double *out, cdz_error *err) {
    static const int wins[2] = {2048, 512};
    *out = 0;
    double total = 0;
    for (int s = 0; s < 2; s++) {
        float *a = NULL, *b = NULL;
        int fa = 0;
        cdz_status st = both_spectra(ref, gen, n, wins[s], &a, &b, &fa, err);
        if (!st) {
            size_t m = (size_t)fa * (wins[s] / 2 + 1);
            total += log_l1(a, b, m, 2.0) + l1(a, b, m);
        }
        cdz_free(a), cdz_free(b);
        if (st) return st;
    }
    *out = total;
    return CDZ_OK;
}

double cdz_si_sdr(const float *ref, const float *gen, size_t n) {
    const double eps = 1e-8;
    double mr = 0, mg = 0;
    for (size_t i = 0; i < n; i++) mr += ref[i], mg += gen[i];
    if (n) mr /= (double)n, mg /= (double)n;
    double rr = 0, gr = 0;
    for (size_t i = 0; i < n; i++) rr += (ref[i] - mr) * (ref[i] - mr), gr += (gen[i] - mg) * (ref[i] - mr);
    const double a = (gr + eps) / (rr + eps);
    double sig = 0, noise = 0;
    for (size_t i = 0; i < n; i++) {
        double t = a * (ref[i] - mr), e = (gen[i] - mg) - t;
        sig += t * t, noise += e * e;
    }
    if (noise == 0) return INFINITY;
    return 10 * log10(sig / noise + eps);
}
