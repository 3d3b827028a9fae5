/* Audio for models: channels mixed to mono, then resampled by a windowed-sinc filter. Output sample j
 * sits at input time t = j rate_in / rate_out and is the sum over the input samples k within `half`
 * of it of x[k] h(t - k), h(u) = 2 fc sinc(2 fc u) blackman(u / half), with the cut-off fc (cycles
 * per input sample) at the lower of the two Nyquist frequencies and half = ZERO_CROSSINGS / (2 fc):
 * the filter reaches 32 of its own zero crossings each way. Samples before the start and after the end
 * are zeros. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio_internal.h"

enum { ZERO_CROSSINGS = 32 };
static const double PI = 3.14159265358979323846;

static double sinc(double x) { return fabs(x) < 1e-12 ? 1.0 : sin(PI * x) / (PI * x); }

static double blackman(double v) { /* v in [-1, 1] */
    double a = PI * (v + 1.0);
    return 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a);
}

static void resample(float *y, size_t n_out, const float *x, size_t n_in, uint32_t rate_in, uint32_t rate_out) {
    const double ratio = (double)rate_in / rate_out;
    const double fc = 0.5 * (rate_out < rate_in ? (double)rate_out / rate_in : 1.0);
    const double half = ZERO_CROSSINGS / (2 * fc);
    for (size_t j = 0; j < n_out; j++) {
        double t = (double)j * ratio, sum = 0;
        long long k0 = (long long)ceil(t - half), k1 = (long long)floor(t + half);
        if (k0 < 0) k0 = 0;
        if (k1 >= (long long)n_in) k1 = (long long)n_in - 1;
        for (long long k = k0; k <= k1; k++) {
            double u = t - (double)k;
            sum += x[k] * 2 * fc * sinc(2 * fc * u) * blackman(u / half);
        }
        y[j] = (float)sum;
    }
}

cdz_status cdz_audio_f_conform(const cdz_audio_f *in, uint32_t rate, float **out, size_t *frames, char *did, size_t did_n,
                               cdz_error *err) {
    *out = NULL, *frames = 0;
    if (did && did_n) did[0] = 0;
    if (!rate || !in->sample_rate || in->channels < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of 0 or no channels: nothing to convert");
    const size_t n_in = in->frames, C = (size_t)in->channels;
    float *mono = cdz_malloc((n_in + 1) * sizeof *mono);
    if (!mono) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu frames", n_in);
    for (size_t i = 0; i < n_in; i++) {
        double s = 0;
        for (size_t c = 0; c < C; c++) s += in->samples[i * C + c];
        mono[i] = (float)(s / (double)C);
    }
    char buf[256] = "";
    if (C > 1) snprintf(buf, sizeof buf, "%zu channels averaged to mono", C);
    if (in->sample_rate == rate) {
        *out = mono, *frames = n_in;
    } else {
        size_t n_out = (size_t)(((unsigned long long)n_in * rate + in->sample_rate / 2) / in->sample_rate);
        float *y = cdz_malloc((n_out + 1) * sizeof *y);
        if (!y) {
            cdz_free(mono);
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu frames", n_out);
        }
        resample(y, n_out, mono, n_in, in->sample_rate, rate);
        cdz_free(mono);
        *out = y, *frames = n_out;
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%sresampled from %u Hz to %u Hz", l ? "; " : "", in->sample_rate, rate);
    }
    if (in->source_bits != 16 || in->source_float) {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%s%d-bit %s samples read as floats", l ? "; " : "", in->source_bits,
                 in->source_float ? "float" : "PCM");
    }
    if (in->nonfinite) {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%s%zu NaN or infinite samples read as 0", l ? "; " : "", in->nonfinite);
    }
    if (did && did_n) snprintf(did, did_n, "%s", buf);
    return CDZ_OK;
}
