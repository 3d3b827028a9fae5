/* 1-D convolutions, their transposes, padding, ELU, Snake and weight normalisation (cadenza/nn.h,
 * "audio layers"). A convolution is a matrix product on the unfolded input: for each signal and
 * group, col (C/groups K, n) holds the input samples each of n outputs reads (im2col), and the output
 * is w (OC/groups, C/groups K) @ col, one OpenBLAS call, over tiles of CONV_TILE outputs: an unfolded
 * tile stays in cache where a whole signal's (112 x 264,000 floats for a 10 s chunk of the codec's first
 * layer) went to memory and back. The transposed convolution is the same product the other way
 * (w^T @ x) folded back onto the output (col2im), tiled over its input. The reference backend's
 * versions (src/nn/ref/ref_conv.c) are direct sums from the definitions; test_backend compares them. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

static int conv_common_ok(const cdz_conv1d_shape *s) {
    return s && s->B >= 1 && s->C >= 1 && s->T >= 1 && s->OC >= 1 && s->K >= 1 && s->stride >= 1 && s->dilation >= 1 &&
           s->pad_left >= 0 && s->pad_right >= 0 && s->groups >= 1 && s->C % s->groups == 0 && s->OC % s->groups == 0;
}

int cdz_conv1d_out_len(const cdz_conv1d_shape *s) {
    if (!conv_common_ok(s)) return -1;
    int64_t span = (int64_t)s->T + s->pad_left + s->pad_right - (int64_t)s->dilation * (s->K - 1) - 1;
    if (span < 0) return -1;
    int64_t n = span / s->stride + 1;
    return n > INT32_MAX ? -1 : (int)n;
}

int cdz_conv_transpose1d_out_len(const cdz_conv1d_shape *s) {
    if (!conv_common_ok(s)) return -1;
    int64_t n = (int64_t)(s->T - 1) * s->stride + (int64_t)s->dilation * (s->K - 1) + 1 - s->pad_left - s->pad_right;
    return n < 1 || n > INT32_MAX ? -1 : (int)n;
}

enum { CONV_TILE = 1024 }; /* outputs (inputs of a transposed convolution) unfolded at once */

static int tile_of(int n) { return n < CONV_TILE ? n : CONV_TILE; }

/* Direct kernels (conv_direct.c) where the CPU has them: a convolution of stride 1 (any dilation) or
 * of dilation 1, a transposed one of dilation 1. */
static int direct_conv(const cdz_conv1d_shape *s) { return nn_conv_direct_applies(s->stride, s->dilation); }
static int direct_convT(const cdz_conv1d_shape *s) { return s->dilation == 1 && nn_conv_direct_applies(s->stride, 1); }

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

size_t cdz_conv1d_scratch_floats(const cdz_conv1d_shape *s) {
    int to = cdz_conv1d_out_len(s);
    if (to < 0) return 0;
    const int cg = s->C / s->groups, og = s->OC / s->groups;
    size_t unfold = (size_t)cg * (size_t)s->K * (size_t)tile_of(to);
    /* enough for either way (nn_conv_use_direct may switch between sizing and use) */
    if (!nn_conv_direct_supported() || (s->stride > 1 && s->dilation > 1)) return unfold;
    return max3(unfold, nn_conv_direct_scratch(0, 0, cg, og, s->K, s->stride, s->dilation),
                nn_conv_direct_scratch(0, 1, cg, og, s->K, s->stride, s->dilation));
}

size_t cdz_conv_transpose1d_scratch_floats(const cdz_conv1d_shape *s) {
    if (cdz_conv_transpose1d_out_len(s) < 0) return 0;
    const int cg = s->C / s->groups, og = s->OC / s->groups;
    size_t unfold = (size_t)og * (size_t)s->K * (size_t)tile_of(s->T);
    if (!nn_conv_direct_supported() || s->dilation > 1) return unfold;
    return max3(unfold, nn_conv_direct_scratch(1, 0, cg, og, s->K, s->stride, 1),
                nn_conv_direct_scratch(1, 1, cg, og, s->K, s->stride, 1));
}

/* col (rows K, n) for the outputs t0 .. t0+n-1: col[(r K + k) n + j] = src[r][(t0 + j) stride + k dilation - pad]
 * (0 outside 0 .. n_in-1). */
static void im2col(float *col, const float *src, int rows, int n_in, int t0, int n, int K, int stride, int dilation, int pad) {
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < K; k++) {
            float *c = col + ((size_t)r * K + k) * n;
            const float *x = src + (size_t)r * n_in;
            int off = t0 * stride + k * dilation - pad;
            for (int j = 0; j < n; j++) {
                int i = j * stride + off;
                c[j] = i >= 0 && i < n_in ? x[i] : 0.0f;
            }
        }
}

/* dst[r][(t0 + j) stride + k dilation - pad] += col[(r K + k) n + j] where that index is inside 0 .. n_dst-1. */
static void col2im_add(float *dst, const float *col, int rows, int n_dst, int t0, int n, int K, int stride, int dilation,
                       int pad) {
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < K; k++) {
            const float *c = col + ((size_t)r * K + k) * n;
            float *x = dst + (size_t)r * n_dst;
            int off = t0 * stride + k * dilation - pad;
            for (int j = 0; j < n; j++) {
                int i = j * stride + off;
                if (i >= 0 && i < n_dst) x[i] += c[j];
            }
        }
}

static void bias_fill(float *y, const float *b, int rows, int n) {
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < n; t++) y[(size_t)r * n + t] = b ? b[r] : 0.0f;
}

static void bias_grad(float *db, const float *dy, int B, int OC, int n) {
    if (!db) return;
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            const float *d = dy + ((size_t)b * OC + o) * n;
            double sum = 0;
            for (int t = 0; t < n; t++) sum += d[t];
            db[o] += (float)sum;
        }
}

void cdz_conv1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b, const cdz_conv1d_shape *s) {
    const int to = cdz_conv1d_out_len(s), G = s->groups, cg = s->C / G, og = s->OC / G, ck = cg * s->K;
    const int direct = direct_conv(s);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            float *yg = y + ((size_t)n * s->OC + (size_t)g * og) * to;
            if (direct) {
                nn_conv_direct(yg, 0, xg, cg, s->T, w + (size_t)g * og * ck, b ? b + (size_t)g * og : NULL, og, s->K, s->stride,
                               s->dilation, s->pad_left, to, scratch);
                continue;
            }
            bias_fill(yg, b ? b + (size_t)g * og : NULL, og, to);
            for (int t0 = 0; t0 < to; t0 += CONV_TILE) {
                const int nt = tile_of(to - t0);
                im2col(scratch, xg, cg, s->T, t0, nt, s->K, s->stride, s->dilation, s->pad_left);
                nn_gemm_ld(0, 0, og, nt, ck, w + (size_t)g * og * ck, ck, scratch, nt, yg + t0, to);
            }
        }
}

/* dx (cg, T) += the gradient of one group's convolution: for stride 1 the convolution of dy by the
 * weights transposed and flipped (wt[c][o][j] = w[o][c][K - 1 - j]), else the transposed convolution
 * of dy by w itself. */
static void conv_dx_direct(float *dx, const float *dy, const float *w, int cg, int og, int to, float *scratch,
                           const cdz_conv1d_shape *s) {
    const int K = s->K;
    if (s->stride > 1) {
        nn_convT_direct(dx, 1, dy, og, to, w, NULL, cg, K, s->stride, s->pad_left, s->T, scratch);
        return;
    }
    float *wt = scratch;
    for (int c = 0; c < cg; c++)
        for (int o = 0; o < og; o++)
            for (int j = 0; j < K; j++) wt[((size_t)c * og + o) * K + j] = w[((size_t)o * cg + c) * K + (K - 1 - j)];
    nn_conv_direct(dx, 1, dy, og, to, wt, NULL, cg, K, 1, s->dilation, (long)(K - 1) * s->dilation - s->pad_left, s->T,
                   scratch + (size_t)cg * og * K);
}

void cdz_conv1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x, const float *w,
                         const cdz_conv1d_shape *s) {
    const int to = cdz_conv1d_out_len(s), G = s->groups, cg = s->C / G, og = s->OC / G, ck = cg * s->K;
    bias_grad(db, dy, s->B, s->OC, to);
    const int direct = direct_conv(s);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            const float *dyg = dy + ((size_t)n * s->OC + (size_t)g * og) * to;
            const float *wg = w + (size_t)g * og * ck;
            if (direct) {
                nn_conv_direct_dw(dw + (size_t)g * og * ck, xg, cg, s->T, dyg, og, to, s->K, s->stride, s->dilation, s->pad_left,
                                  scratch);
                if (dx) conv_dx_direct(dx + ((size_t)n * s->C + (size_t)g * cg) * s->T, dyg, wg, cg, og, to, scratch, s);
                continue;
            }
            for (int t0 = 0; t0 < to; t0 += CONV_TILE) {
                const int nt = tile_of(to - t0);
                /* dw += dy col^T, with the tile unfolded again (cheaper than keeping it for every signal) */
                im2col(scratch, xg, cg, s->T, t0, nt, s->K, s->stride, s->dilation, s->pad_left);
                nn_gemm_ld(0, 1, og, ck, nt, dyg + t0, to, scratch, nt, dw + (size_t)g * og * ck, ck);
                if (!dx) continue;
                /* dcol = w^T dy, folded back onto dx; the scratch is free again */
                memset(scratch, 0, (size_t)ck * nt * sizeof *scratch);
                nn_gemm_ld(1, 0, ck, nt, og, wg, ck, dyg + t0, to, scratch, nt);
                col2im_add(dx + ((size_t)n * s->C + (size_t)g * cg) * s->T, scratch, cg, s->T, t0, nt, s->K, s->stride,
                           s->dilation, s->pad_left);
            }
        }
}

void cdz_conv_transpose1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                                  const cdz_conv1d_shape *s) {
    const int to = cdz_conv_transpose1d_out_len(s), G = s->groups, cg = s->C / G, og = s->OC / G, ok = og * s->K;
    const int direct = direct_convT(s);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            float *yg = y + ((size_t)n * s->OC + (size_t)g * og) * to;
            if (direct) {
                nn_convT_direct(yg, 0, xg, cg, s->T, w + (size_t)g * cg * ok, b ? b + (size_t)g * og : NULL, og, s->K, s->stride,
                                s->pad_left, to, scratch);
                continue;
            }
            bias_fill(yg, b ? b + (size_t)g * og : NULL, og, to);
            for (int t0 = 0; t0 < s->T; t0 += CONV_TILE) {
                const int nt = tile_of(s->T - t0);
                memset(scratch, 0, (size_t)ok * nt * sizeof *scratch);
                nn_gemm_ld(1, 0, ok, nt, cg, w + (size_t)g * cg * ok, ok, xg + t0, s->T, scratch, nt);
                col2im_add(yg, scratch, og, to, t0, nt, s->K, s->stride, s->dilation, s->pad_left);
            }
        }
}

void cdz_conv_transpose1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                                   const float *w, const cdz_conv1d_shape *s) {
    const int to = cdz_conv_transpose1d_out_len(s), G = s->groups, cg = s->C / G, og = s->OC / G, ok = og * s->K;
    const int direct = direct_convT(s);
    bias_grad(db, dy, s->B, s->OC, to);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            const float *wg = w + (size_t)g * cg * ok;
            const float *dyg = dy + ((size_t)n * s->OC + (size_t)g * og) * to;
            if (direct) { /* dx: the convolution of dy by w */
                nn_convT_direct_dw(dw + (size_t)g * cg * ok, xg, cg, s->T, dyg, og, to, s->K, s->stride, s->pad_left, scratch);
                if (dx)
                    nn_conv_direct(dx + ((size_t)n * s->C + (size_t)g * cg) * s->T, 1, dyg, og, to, wg, NULL, cg, s->K, s->stride,
                                   1, s->pad_left, s->T, scratch);
                continue;
            }
            for (int t0 = 0; t0 < s->T; t0 += CONV_TILE) {
                const int nt = tile_of(s->T - t0);
                /* dcol: the output gradient each input sample of the tile spread to, unfolded as a convolution would */
                im2col(scratch, dyg, og, to, t0, nt, s->K, s->stride, s->dilation, s->pad_left);
                nn_gemm_ld(0, 1, cg, ok, nt, xg + t0, s->T, scratch, nt, dw + (size_t)g * cg * ok, ok);
                if (dx) nn_gemm_ld(0, 0, cg, nt, ok, wg, ok, scratch, nt, dx + ((size_t)n * s->C + (size_t)g * cg) * s->T + t0, s->T);
            }
        }
}

/* The sample of a row of T that padded position p (from -left) reads. */
static int pad_source(int p, int T, cdz_pad_mode mode) {
    if (p >= 0 && p < T) return p;
    if (mode == CDZ_PAD_ZEROS) return -1;
    if (mode == CDZ_PAD_REPLICATE || T == 1) return p < 0 ? 0 : T - 1;
    /* reflect, folded again where the padding is longer than the row (the contract asks for less) */
    int period = 2 * (T - 1), i = p % period;
    if (i < 0) i += period;
    return i < T ? i : period - i;
}

void cdz_pad1d_forward(float *y, const float *x, int rows, int T, int left, int right, cdz_pad_mode mode) {
    const int n = left + T + right;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * T;
        float *yr = y + (size_t)r * n;
        for (int p = 0; p < n; p++) {
            int i = pad_source(p - left, T, mode);
            yr[p] = i < 0 ? 0.0f : xr[i];
        }
    }
}

void cdz_pad1d_backward(float *dx, const float *dy, int rows, int T, int left, int right, cdz_pad_mode mode) {
    const int n = left + T + right;
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < n; p++) {
            int i = pad_source(p - left, T, mode);
            if (i >= 0) dx[(size_t)r * T + i] += dy[(size_t)r * n + p];
        }
}

/* ELU: vectors of 8 on AVX2 (conv_direct.c), the rest (and other CPUs) with the vectorisable
 * exponential (nn_exp; exp of min(x, 0), so that large inputs cannot overflow the unused branch). */
NN_CLONES void cdz_elu_forward(float *y, const float *x, size_t n, float alpha) {
#pragma omp simd
    for (size_t i = nn_elu_forward_fast(y, x, n, alpha); i < n; i++) {
        float v = x[i], e = nn_exp(v < 0 ? v : 0.0f);
        y[i] = v > 0 ? v : alpha * (e - 1.0f);
    }
}

NN_CLONES void cdz_elu_backward(float *dx, const float *dy, const float *x, size_t n, float alpha) {
#pragma omp simd
    for (size_t i = nn_elu_backward_fast(dx, dy, x, n, alpha); i < n; i++) {
        float v = x[i], e = nn_exp(v < 0 ? v : 0.0f);
        dx[i] += v > 0 ? dy[i] : dy[i] * alpha * e;
    }
}

void cdz_snake_forward(float *y, const float *x, const float *alpha, int B, int C, int T) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float a = alpha[c], inv = 1.0f / (a + 1e-9f);
            const float *xr = x + ((size_t)b * C + c) * T;
            float *yr = y + ((size_t)b * C + c) * T;
            for (int t = 0; t < T; t++) {
                float sn = sinf(a * xr[t]);
                yr[t] = xr[t] + inv * sn * sn;
            }
        }
}

void cdz_snake_backward(float *dx, float *dalpha, const float *dy, const float *x, const float *alpha, int B, int C, int T) {
    for (int c = 0; c < C; c++) {
        const double a = alpha[c], inv = 1.0 / (a + 1e-9);
        double da = 0;
        for (int b = 0; b < B; b++) {
            const float *xr = x + ((size_t)b * C + c) * T, *dr = dy + ((size_t)b * C + c) * T;
            float *dxr = dx ? dx + ((size_t)b * C + c) * T : NULL;
            for (int t = 0; t < T; t++) {
                float ax = (float)a * xr[t], s2 = sinf(2 * ax), sn = sinf(ax);
                if (dxr) dxr[t] += dr[t] * (1.0f + s2 * (float)(a * inv));
                da += (double)dr[t] * ((double)xr[t] * s2 * inv - (double)sn * sn * inv * inv);
            }
        }
        if (dalpha) dalpha[c] += (float)da;
    }
}

void cdz_weight_norm_forward(float *w, float *norm, const float *v, const float *g, int O, int n) {
    for (int o = 0; o < O; o++) {
        const float *vr = v + (size_t)o * n;
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)vr[i] * vr[i];
        norm[o] = (float)sqrt(ss);
        float scale = norm[o] > 0 ? g[o] / norm[o] : 0.0f;
        for (int i = 0; i < n; i++) w[(size_t)o * n + i] = vr[i] * scale;
    }
}

void cdz_weight_norm_backward(float *dv, float *dg, const float *dw, const float *v, const float *g, const float *norm,
                              int O, int n) {
    for (int o = 0; o < O; o++) {
        if (!(norm[o] > 0)) continue; /* a zero row: w is 0 whatever g, and v has no direction to move along */
        const float *vr = v + (size_t)o * n, *dr = dw + (size_t)o * n;
        double dot = 0; /* dw . u */
        for (int i = 0; i < n; i++) dot += (double)dr[i] * vr[i];
        dot /= norm[o];
        if (dg) dg[o] += (float)dot;
        const double k = g[o] / (double)norm[o];
        for (int i = 0; i < n; i++) dv[(size_t)o * n + i] += (float)(k * (dr[i] - dot * vr[i] / norm[o]));
    }
}
