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

size_t cdz_conv1d_scratch_floats(const cdz_conv1d_shape *s) {
    int to = cdz_conv1d_out_len(s);
    return to < 0 ? 0 : (size_t)(s->C / s->groups) * (size_t)s->K * (size_t)tile_of(to);
}

size_t cdz_conv_transpose1d_scratch_floats(const cdz_conv1d_shape *s) {
    return cdz_conv_transpose1d_out_len(s) < 0 ? 0 : (size_t)(s->OC / s->groups) * (size_t)s->K * (size_t)tile_of(s->T);
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
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            float *yg = y + ((size_t)n * s->OC + (size_t)g * og) * to;
            bias_fill(yg, b ? b + (size_t)g * og : NULL, og, to);
            for (int t0 = 0; t0 < to; t0 += CONV_TILE) {
                const int nt = tile_of(to - t0);
                im2col(scratch, xg, cg, s->T, t0, nt, s->K, s->stride, s->dilation, s->pad_left);
                nn_gemm_ld(0, 0, og, nt, ck, w + (size_t)g * og * ck, ck, scratch, nt, yg + t0, to);
            }
        }
}

void cdz_conv1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x, const float *w,
                         const cdz_conv1d_shape *s) {
    const int to = cdz_conv1d_out_len(s), G = s->groups, cg = s->C / G, og = s->OC / G, ck = cg * s->K;
    bias_grad(db, dy, s->B, s->OC, to);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            const float *dyg = dy + ((size_t)n * s->OC + (size_t)g * og) * to;
            const float *wg = w + (size_t)g * og * ck;
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
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            float *yg = y + ((size_t)n * s->OC + (size_t)g * og) * to;
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
    bias_grad(db, dy, s->B, s->OC, to);
    for (int n = 0; n < s->B; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * s->C + (size_t)g * cg) * s->T;
            const float *wg = w + (size_t)g * cg * ok;
            const float *dyg = dy + ((size_t)n * s->OC + (size_t)g * og) * to;
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

void cdz_elu_forward(float *y, const float *x, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * (expf(x[i]) - 1.0f);
}

void cdz_elu_backward(float *dx, const float *dy, const float *x, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : dy[i] * alpha * expf(x[i]);
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
