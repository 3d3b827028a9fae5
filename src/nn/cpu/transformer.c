/* The transformer's elementwise and per-row layers, CPU reference (fp32): layer norm (PyTorch
 * nn.LayerNorm over the last dimension, eps 1e-5), exact GELU (PyTorch F.gelu's default, the erf form,
 * not the tanh approximation) and ReLU. The attention cores are in attention.c. */
#include <math.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

#define LAYERNORM_EPS 1e-5f

/* Two passes (the mean, then the squares of the deviations) rather than E[x^2] - E[x]^2, which loses
 * the variance to cancellation when the mean is large against the spread. Biased variance, as
 * PyTorch. */
NN_CLONES static void layernorm_row(float *y, float *mean_out, float *rstd_out, const float *x, const float *w,
                                    const float *b, int C) {
    float sum = 0, var = 0;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < C; c++) sum += x[c];
    float mean = sum / (float)C;
#pragma omp simd reduction(+ : var)
    for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
    float rstd = 1.0f / sqrtf(var / (float)C + LAYERNORM_EPS);
#pragma omp simd
    for (int c = 0; c < C; c++) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
    *mean_out = mean, *rstd_out = rstd;
}

void cdz_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                           int C) {
    for (int n = 0; n < N; n++)
        layernorm_row(y + (size_t)n * C, mean + n, rstd + n, x + (size_t)n * C, w, b, C);
}

/* With xhat = (x - mean) rstd and g = dy w: dx = rstd (g - mean(g) - xhat mean(g xhat)), the
 * mean and the scale of the row depending on every x of it. */
NN_CLONES static void layernorm_row_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                             float mean, float rstd, const float *w, int C) {
    float g_sum = 0, gx_sum = 0;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int c = 0; c < C; c++) {
        float g = dy[c] * w[c];
        g_sum += g;
        gx_sum += g * (x[c] - mean) * rstd;
    }
    float g_mean = g_sum / (float)C, gx_mean = gx_sum / (float)C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float xhat = (x[c] - mean) * rstd;
        dx[c] += rstd * (dy[c] * w[c] - g_mean - xhat * gx_mean);
        dw[c] += dy[c] * xhat;
        db[c] += dy[c];
    }
}

void cdz_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                            const float *rstd, const float *w, int N, int C) {
    for (int n = 0; n < N; n++)
        layernorm_row_backward(dx + (size_t)n * C, dw, db, dy + (size_t)n * C, x + (size_t)n * C, mean[n], rstd[n], w, C);
}

#define SQRT1_2 0.70710678118654752f     /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143268f /* 1/sqrt(2 pi) */

/* libm's erff, not an approximation: the reference must match PyTorch's erf-based GELU. */
void cdz_gelu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * SQRT1_2));
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x), Phi and phi the standard normal CDF and density. */
void cdz_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * SQRT1_2)), pdf = INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

NN_CLONES void cdz_relu_forward(float *y, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* The gradient at 0 is taken as 0, as PyTorch. */
NN_CLONES void cdz_relu_backward(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}
