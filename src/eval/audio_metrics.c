/* DAC's audio distances (cadenza/audio_metrics.h): STFT magnitudes through KissFFT's real FFT,
 * librosa's mel filters, and the scale-invariant SDR. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_metrics.h"

#ifdef CDZ_HAVE_KISSFFT
#include <kiss_fftr.h>

/* |X|: in double, as hypot would give for spectra of float audio (no overflow to guard against),
 * and without hypot's cost, which was a twentieth of a codec training step. */
static inline double magnitude(kiss_fft_cpx v) { return sqrt((double)v.r * v.r + (double)v.i * v.i); }
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
        for (int k = 0; k < bins; k++) out[(size_t)f * bins + k] = magnitude(spec[k]);
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

/* ---- the spectral losses: one plan of windows, FFTs and filters, values and gradients ---- */

enum { N_SCALES = 7 };
static const int SCALE_WIN[N_SCALES] = {32, 64, 128, 256, 512, 1024, 2048}, SCALE_MELS[N_SCALES] = {5, 10, 20, 40, 80, 160, 320};

#ifdef CDZ_HAVE_KISSFFT
typedef struct spectral_scale {
    int win, bins, n_mels, stft; /* stft: the STFT distance uses this window too (2048 and 512) */
    float *hann, *filters;       /* (win), (n_mels, bins) */
    int *k0, *k1;                /* each filter's first and last nonzero bin */
    kiss_fftr_cfg fwd, inv;
} spectral_scale;
#endif

struct cdz_spectral_plan {
    int rate;
#ifdef CDZ_HAVE_KISSFFT
    spectral_scale sc[N_SCALES];
#endif
};

void cdz_spectral_plan_free(cdz_spectral_plan *p) {
    if (!p) return;
#ifdef CDZ_HAVE_KISSFFT
    for (int s = 0; s < N_SCALES; s++) {
        spectral_scale *c = &p->sc[s];
        cdz_free(c->hann), cdz_free(c->filters), cdz_free(c->k0), cdz_free(c->k1);
        kiss_fftr_free(c->fwd), kiss_fftr_free(c->inv);
    }
#endif
    cdz_free(p);
}

cdz_status cdz_spectral_plan_new(cdz_spectral_plan **out, int rate, cdz_error *err) {
    *out = NULL;
    if (rate <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of %d", rate);
#ifndef CDZ_HAVE_KISSFFT
    return no_fft(err);
#else
    cdz_spectral_plan *p = cdz_calloc(1, sizeof *p);
    if (!p) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a spectral plan");
    p->rate = rate;
    int ok = 1;
    for (int s = 0; s < N_SCALES && ok; s++) {
        spectral_scale *c = &p->sc[s];
        c->win = SCALE_WIN[s], c->bins = c->win / 2 + 1, c->n_mels = SCALE_MELS[s];
        c->stft = c->win == 2048 || c->win == 512;
        c->hann = cdz_malloc((size_t)c->win * sizeof *c->hann);
        c->filters = cdz_malloc((size_t)c->n_mels * c->bins * sizeof *c->filters);
        c->k0 = cdz_malloc((size_t)c->n_mels * sizeof *c->k0), c->k1 = cdz_malloc((size_t)c->n_mels * sizeof *c->k1);
        c->fwd = kiss_fftr_alloc(c->win, 0, NULL, NULL), c->inv = kiss_fftr_alloc(c->win, 1, NULL, NULL);
        ok = c->hann && c->filters && c->k0 && c->k1 && c->fwd && c->inv;
        if (!ok) break;
        for (int i = 0; i < c->win; i++) c->hann[i] = (float)(0.5 - 0.5 * cos(2 * PI * i / c->win)); /* periodic */
        cdz_mel_filters(c->filters, rate, c->win, c->n_mels);
        for (int m = 0; m < c->n_mels; m++) {
            const float *wm = c->filters + (size_t)m * c->bins;
            int k0 = 0, k1 = c->bins - 1;
            while (k0 < c->bins && wm[k0] == 0) k0++;
            while (k1 >= k0 && wm[k1] == 0) k1--;
            c->k0[m] = k0, c->k1[m] = k1;
        }
    }
    if (!ok) {
        cdz_spectral_plan_free(p);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a spectral plan");
    }
    *out = p;
    return CDZ_OK;
#endif
}

#ifdef CDZ_HAVE_KISSFFT
/* Frame f of x, centred (reflected ends) and windowed, its spectrum into spec. */
static void frame_spectrum(const spectral_scale *c, const float *x, size_t n, int hop, int f, float *frame, kiss_fft_cpx *spec) {
    long long start = (long long)f * hop - c->win / 2;
    for (int i = 0; i < c->win; i++) frame[i] = reflected(x, n, start + i) * c->hann[i];
    kiss_fftr(c->fwd, frame, spec);
}

static void magnitudes(const spectral_scale *c, const float *x, size_t n, int hop, int F, float *mag, float *frame,
                       kiss_fft_cpx *spec) {
    for (int f = 0; f < F; f++) {
        frame_spectrum(c, x, n, hop, f, frame, spec);
        for (int k = 0; k < c->bins; k++) mag[(size_t)f * c->bins + k] = magnitude(spec[k]);
    }
}

static void mel_of(const spectral_scale *c, const float *mag, int F, float *mel) {
    for (int f = 0; f < F; f++)
        for (int m = 0; m < c->n_mels; m++) {
            const float *wm = c->filters + (size_t)m * c->bins, *row = mag + (size_t)f * c->bins;
            double s = 0;
            for (int k = c->k0[m]; k <= c->k1[m]; k++) s += (double)row[k] * wm[k];
            mel[(size_t)f * c->n_mels + m] = (float)s;
        }
}

static double sgn(double v) { return (v > 0) - (v < 0); }

/* The gradient of the magnitudes dmag (F, bins) back to the signal: |X_k| of a frame moves with
 * sample i by hann_i Re(X_k e^{2 pi i k i / win}) / |X_k|, so a frame's gradient is hann times the
 * inverse real FFT of dmag X / |X| (halved off the DC and Nyquist bins, which the inverse counts once),
 * added into dx at the samples the frame read (a reflected sample's to the sample it copies). */
static void magnitude_backward(const spectral_scale *c, const float *x, size_t n, int hop, int F, const float *dmag, float *dx,
                               float *frame, kiss_fft_cpx *spec) {
    for (int f = 0; f < F; f++) {
        frame_spectrum(c, x, n, hop, f, frame, spec);
        const float *d = dmag + (size_t)f * c->bins;
        for (int k = 0; k < c->bins; k++) {
            double m = magnitude(spec[k]), g = m > 0 ? d[k] / m : 0;
            if (k > 0 && k < c->bins - 1) g *= 0.5;
            spec[k].r = (float)(spec[k].r * g), spec[k].i = (float)(spec[k].i * g);
        }
        kiss_fftri(c->inv, spec, frame);
        long long start = (long long)f * hop - c->win / 2;
        for (int i = 0; i < c->win; i++) {
            long long j = start + i;
            while (j < 0 || j >= (long long)n) j = j < 0 ? -j : 2 * ((long long)n - 1) - j;
            dx[j] += frame[i] * c->hann[i];
        }
    }
}
#endif

cdz_status cdz_spectral_loss(const cdz_spectral_plan *p, const float *ref, const float *gen, size_t n, float w_mel, float w_stft,
                             float *dgen, double *mel, double *stft, cdz_error *err) {
    if (mel) *mel = 0;
    if (stft) *stft = 0;
    if (n <= 1024) return cdz_error_set(err, CDZ_ERR_ARG, "%zu samples: the spectral losses need more than 1,024", n);
#ifndef CDZ_HAVE_KISSFFT
    (void)p, (void)ref, (void)gen, (void)w_mel, (void)w_stft, (void)dgen;
    return no_fft(err);
#else
    const double LN10 = 2.302585092994046, EPS = 1e-5;
    double mel_total = 0, stft_total = 0;
    for (int s = 0; s < N_SCALES; s++) {
        const spectral_scale *c = &p->sc[s];
        const int hop = c->win / 4, F = (int)(1 + n / (size_t)hop), bins = c->bins, M = c->n_mels;
        const size_t nm = (size_t)F * bins, nmel = (size_t)F * M;
        float *mr = cdz_malloc(nm * sizeof *mr), *mg = cdz_malloc(nm * sizeof *mg), *dm = dgen ? cdz_calloc(nm, sizeof *dm) : NULL;
        float *melr = cdz_malloc(nmel * sizeof *melr), *melg = cdz_malloc(nmel * sizeof *melg);
        float *frame = cdz_malloc((size_t)c->win * sizeof *frame);
        kiss_fft_cpx *spec = cdz_malloc((size_t)bins * sizeof *spec);
        int ok = mr && mg && (!dgen || dm) && melr && melg && frame && spec;
        if (ok) {
            magnitudes(c, ref, n, hop, F, mr, frame, spec);
            magnitudes(c, gen, n, hop, F, mg, frame, spec);
            mel_of(c, mr, F, melr);
            mel_of(c, mg, F, melg);
            double sum = 0;
            for (size_t i = 0; i < nmel; i++) {
                double lg = log10(fmax(melg[i], EPS)), lr = log10(fmax(melr[i], EPS));
                sum += fabs(lg - lr);
                melg[i] = melg[i] > EPS ? (float)(w_mel * sgn(lg - lr) / (melg[i] * LN10) / (double)nmel) : 0.0f; /* d/dmel */
            }
            mel_total += sum / (double)nmel;
            if (dgen && w_mel != 0) /* through the filters: dmag[k] += dmel[m] w[m][k] */
                for (int f = 0; f < F; f++)
                    for (int m = 0; m < M; m++) {
                        const float g = melg[(size_t)f * M + m], *wm = c->filters + (size_t)m * bins;
                        float *row = dm + (size_t)f * bins;
                        for (int k = c->k0[m]; k <= c->k1[m] && g != 0; k++) row[k] += g * wm[k];
                    }
            if (c->stft) {
                double lsum = 0, msum = 0;
                for (size_t i = 0; i < nm; i++) {
                    double lg = 2 * log10(fmax(mg[i], EPS)), lr = 2 * log10(fmax(mr[i], EPS)), diff = (double)mg[i] - mr[i];
                    lsum += fabs(lg - lr), msum += fabs(diff);
                    if (dm) dm[i] += (float)(w_stft * ((mg[i] > EPS ? sgn(lg - lr) * 2 / (mg[i] * LN10) : 0) + sgn(diff)) / (double)nm);
                }
                stft_total += (lsum + msum) / (double)nm;
            }
            if (dgen) magnitude_backward(c, gen, n, hop, F, dm, dgen, frame, spec);
        }
        cdz_free(mr), cdz_free(mg), cdz_free(dm), cdz_free(melr), cdz_free(melg), cdz_free(frame), cdz_free(spec);
        if (!ok) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for spectra of %zu samples", n);
    }
    if (mel) *mel = mel_total;
    if (stft) *stft = stft_total;
    return CDZ_OK;
#endif
}

cdz_status cdz_mel_distance(const float *ref, const float *gen, size_t n, int rate, double *out, cdz_error *err) {
    *out = 0;
    cdz_spectral_plan *p = NULL;
    cdz_status st = cdz_spectral_plan_new(&p, rate, err);
    if (st == CDZ_OK) st = cdz_spectral_loss(p, ref, gen, n, 1, 0, NULL, out, NULL, err);
    cdz_spectral_plan_free(p);
    return st;
}

cdz_status cdz_stft_distance(const float *ref, const float *gen, size_t n, double *out, cdz_error *err) {
    *out = 0;
    cdz_spectral_plan *p = NULL;
    cdz_status st = cdz_spectral_plan_new(&p, 24000, err); /* the rate only shapes the mel filters */
    if (st == CDZ_OK) st = cdz_spectral_loss(p, ref, gen, n, 0, 1, NULL, NULL, out, err);
    cdz_spectral_plan_free(p);
    return st;
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

/* ---- what a listener hears of a clip: its pitch classes and its onsets ---- */

cdz_status cdz_audio_stats(const float *x, size_t n, int rate, cdz_audio_clip_stats *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (rate <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of %d", rate);
    const int win = 4096, hop = 1024, owin = 1024, ohop = 256;
    if (n <= (size_t)win) return cdz_error_set(err, CDZ_ERR_ARG, "%zu samples: too short for the statistics (more than %d)", n, win);
    float *mag = NULL;
    int F = 0;
    cdz_status st = cdz_stft_magnitude(x, n, win, hop, &mag, &F, err);
    if (st) return st;
    const int bins = win / 2 + 1;
    double chroma[12] = {0}, total = 0;
    for (int k = 1; k < bins; k++) {
        double f = (double)k * rate / win;
        if (f < 55 || f > 5000) continue;
        int pc = ((int)lround(12 * log2(f / 440.0) + 69)) % 12;
        for (int fr = 0; fr < F; fr++) {
            double e = (double)mag[(size_t)fr * bins + k] * mag[(size_t)fr * bins + k];
            chroma[pc] += e, total += e;
        }
    }
    cdz_free(mag);
    for (int i = 0; i < 12; i++) out->chroma[i] = total > 0 ? chroma[i] / total : 0;
    /* onsets: peaks of the spectral flux (the summed rise of log magnitudes, frame to frame) above its
     * mean plus one deviation, at least 50 ms apart */
    if ((st = cdz_stft_magnitude(x, n, owin, ohop, &mag, &F, err)) != CDZ_OK) return st;
    const int ob = owin / 2 + 1;
    double *flux = cdz_calloc((size_t)F, sizeof *flux);
    if (!flux) {
        cdz_free(mag);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    double mean = 0, sq = 0;
    for (int fr = 1; fr < F; fr++) {
        double v = 0;
        for (int k = 0; k < ob; k++) {
            double d = log1p(1000.0 * mag[(size_t)fr * ob + k]) - log1p(1000.0 * mag[(size_t)(fr - 1) * ob + k]);
            if (d > 0) v += d;
        }
        flux[fr] = v, mean += v, sq += v * v;
    }
    cdz_free(mag);
    mean /= F > 1 ? F - 1 : 1;
    double sd = sqrt(fmax(0, sq / (F > 1 ? F - 1 : 1) - mean * mean)), thr = mean + sd;
    const int gap = (int)ceil(0.05 * rate / ohop);
    int last = -gap - 1, onsets = 0;
    for (int fr = 1; fr + 1 < F; fr++)
        if (flux[fr] > thr && flux[fr] >= flux[fr - 1] && flux[fr] > flux[fr + 1] && fr - last > gap) onsets++, last = fr;
    cdz_free(flux);
    out->seconds = (double)n / rate;
    out->onset_rate = onsets / out->seconds;
    double r2 = 0;
    for (size_t i = 0; i < n; i++) r2 += (double)x[i] * x[i];
    out->rms_db = r2 > 0 ? 10 * log10(r2 / (double)n) : -INFINITY;
    return CDZ_OK;
}
