/* Shared by the files of src/nn/cpu/ only. */
#ifndef CADENZA_NN_INTERNAL_H
#define CADENZA_NN_INTERNAL_H
#include <stdint.h>
#include <string.h>

/* c (M, N) += a (M, K; stored K x M if ta) @ b (K, N; stored N x K if tb), row-major, with leading
 * dimensions (row strides) lda, ldb, ldc, so that column blocks of a matrix can take part. */
void nn_gemm_ld(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb, float *c, int ldc);
/* The same with packed (contiguous) matrices. */
void nn_gemm_acc(int ta, int tb, int M, int N, int K, const float *a, const float *b, float *c);

/* Direct 1-D convolutions on CPUs with AVX2 and FMA (conv_direct.c), used by conv.c where they apply
 * (stride 1, or dilation 1) instead of unfolding the input; nn_conv_use_direct(0) turns them off (the
 * tests compare both ways). nn_conv_direct: y (OC, n_out) = (y if acc, else bias) + the convolution of
 * x (C, T) by w (OC, C, K); nn_convT_direct: the transposed one, w (C, OC, K), dilation 1. Their
 * scratch: nn_conv_direct_scratch (backward: the dx pass of the convolution's backward, whose scratch
 * holds the transposed weights too). */
int nn_conv_direct_supported(void);
int nn_conv_direct_enabled(void);
void nn_conv_use_direct(int on);
int nn_conv_direct_applies(int stride, int dilation);
size_t nn_conv_direct_scratch(int transpose, int backward, int C, int OC, int K, int stride, int dilation);
void nn_conv_direct(float *y, int acc, const float *x, int C, int T, const float *w, const float *b, int OC, int K, int s,
                    int dil, long pad, int n_out, float *scratch);
void nn_convT_direct(float *y, int acc, const float *x, int C, int T, const float *w, const float *b, int OC, int K, int s,
                     long pad, int n_out, float *scratch);
/* Weight gradients of the two (dw += ...; w's layout as above); their scratch is within the backward's. */
void nn_conv_direct_dw(float *dw, const float *x, int C, int T, const float *dy, int OC, int n_out, int K, int s, int dil,
                       long pad, float *scratch);
void nn_convT_direct_dw(float *dw, const float *x, int C, int T, const float *dy, int OC, int n_out, int K, int s, long pad,
                        float *scratch);
/* ELU over the first elements of x with AVX2 and FMA where the CPU has them: how many it did (a
 * multiple of 8; 0 on other CPUs), the caller does the rest. */
size_t nn_elu_forward_fast(float *y, const float *x, size_t n, float alpha);
size_t nn_elu_backward_fast(float *dx, const float *dy, const float *x, size_t n, float alpha);

/* Hot loops are compiled for AVX-512, AVX2+FMA and baseline x86-64, the best picked when the
 * program loads (GCC function multiversioning), so the shipped build stays portable. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_CLONES
#endif

/* Branch-free exp, tanh and sigmoid that the compiler can vectorise, accurate to a few float ulps
 * (relative error below 3e-7 for exp; tanh absolute error below 1e-7): the exponential is
 * 2^n * p(r) with n = round(x / ln 2), r = x - n ln 2 split in two parts for accuracy, and p the
 * degree-6 Taylor polynomial, whose remainder on |r| <= ln(2)/2 is under 1.2e-7. */
static inline float nn_exp(float x) {
    const float in = x;
    x = x == x ? x : 0.0f;         /* NaN: computed on 0 (no conversion of NaN to an integer), NaN returned */
    x = x < -87.0f ? -87.0f : x; /* (selects, not branches: loops stay vectorisable); -inf gives exp(-87) */
    x = x > 88.0f ? 88.0f : x;   /* +inf gives exp(88), the largest float's neighbourhood */
    /* round to nearest by the 1.5 * 2^23 trick: exact for |x / ln 2| < 2^22 */
    float fn = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = (x - fn * 0.693145752f) - fn * 1.42860677e-6f; /* ln 2 = 0.693145752 + 1.42860677e-6 */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return in == in ? p * scale : in;
}
static inline float nn_sigmoid(float x) { return 1.0f / (1.0f + nn_exp(-x)); }
/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|); absolute error near 0 below 1e-7. */
static inline float nn_tanh(float x) {
    float e = nn_exp(-2.0f * __builtin_fabsf(x));
    return __builtin_copysignf((1.0f - e) / (1.0f + e), x);
}
#endif
