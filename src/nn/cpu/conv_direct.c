/* Direct 1-D convolutions for x86-64 CPUs with AVX2 and FMA (conv.c calls them where they apply).
 *
 * Every case is one stride-1 correlation of a gathered tile of the input,
 *     z[o][j] = sum_c sum_q W[o][c][q] xt[c][j + q dil],
 * computed by a register-blocked kernel (4 output rows x 24 outputs in 12 vector accumulators; each
 * input vector loaded once for 4 rows, each weight broadcast once for 24 outputs), so the input is
 * never unfolded K times over (im2col) and no matrix library is called for products 8 to 256 wide:
 *   - a convolution of stride 1 (any dilation): W is w itself and xt the input shifted by the padding;
 *   - a convolution of stride s (dilation 1) is a stride-1 one over s phases of the input
 *     (xt[c s + r][j] = x[c][j s + r - pad]) with ceil(K / s) taps: W[o][c s + r][q] = w[o][c][q s + r];
 *   - a transposed convolution of stride s makes each of its s output phases (rows o s + r of z) from
 *     ceil(K / s) neighbouring inputs, W[o s + r][c][j] = w[c][o][(Q - 1 - j) s + r], interleaved onto y.
 * The gradients with respect to the input are the same operations with the weights transposed
 * (cdz_conv1d_backward's dx is the transposed convolution of dy, and the other way round). The weight
 * gradients pair the same tiles the other way: 4 rows of dy (or of its phases) against 3 (input row,
 * tap) pairs, partial sums in vectors over 1,024 outputs, then added across. Sums run in another
 * order than the unfolded product's: the results agree to rounding (test_conv and test_backend
 * compare both ways with the reference backend's direct sums). ELU on AVX2 lives here too. Speeds
 * against the unfolded products and PyTorch: docs/PERF.md. */
#include <stddef.h>
#include <string.h>

#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DIRECT_X86 1
#else
#define DIRECT_X86 0
#endif

enum {
    MR = 4,           /* output rows of the kernel */
    NV = 3,           /* vectors of 8 outputs */
    NB = NV * 8,      /* outputs of the kernel: 24 */
    DTILE = 8 * NB,   /* outputs gathered at once: 192 */
    GTILE = 1024,     /* outputs a weight-gradient tile sums over (a multiple of 8) */
    GP = 3,           /* (input row, tap) pairs of the weight-gradient kernel */
};

static int direct_on = -1; /* -1: not yet decided */

void nn_conv_use_direct(int on) {
    direct_on = on && nn_conv_direct_supported();
}

int nn_conv_direct_supported(void) {
#if DIRECT_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int nn_conv_direct_enabled(void) {
    if (direct_on < 0) direct_on = nn_conv_direct_supported();
    return direct_on;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* ---- scratch ---- */

/* Floats that nn_conv_direct needs: the repacked weights (strided only) and the gathered tile. */
static size_t conv_scratch(int C, int OC, int K, int s, int dil) {
    const size_t Q = s > 1 ? ceil_div((size_t)K, (size_t)s) : (size_t)K, Cp = (size_t)C * (size_t)s;
    const size_t halo = (Q - 1) * (size_t)(s > 1 ? 1 : dil);
    return (s > 1 ? (size_t)OC * Cp * Q : 0) + Cp * (DTILE + halo);
}

static size_t convT_scratch(int C, int OC, int K, int s) {
    const size_t Q = ceil_div((size_t)K, (size_t)s), M = (size_t)OC * (size_t)s;
    return M * (size_t)C * Q + (size_t)C * (DTILE + Q - 1) + M * DTILE;
}

/* The weight gradient's: a tile of dy (or its phases), the gathered input, the gradient by phases. */
static size_t conv_dw_scratch(int C, int OC, int K, int s, int dil) {
    const size_t Q = s > 1 ? ceil_div((size_t)K, (size_t)s) : (size_t)K, Cp = (size_t)C * (size_t)s;
    const size_t halo = (Q - 1) * (size_t)(s > 1 ? 1 : dil);
    return (size_t)OC * GTILE + Cp * (GTILE + halo) + (s > 1 ? (size_t)OC * Cp * Q : 0);
}

static size_t convT_dw_scratch(int C, int OC, int K, int s) {
    const size_t Q = ceil_div((size_t)K, (size_t)s), M = (size_t)OC * (size_t)s;
    return M * GTILE + (size_t)C * (GTILE + Q - 1) + M * (size_t)C * Q;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

size_t nn_conv_direct_scratch(int transpose, int backward, int C, int OC, int K, int s, int dil) {
    if (!transpose && !backward) return conv_scratch(C, OC, K, s, dil);
    if (transpose && !backward) return convT_scratch(C, OC, K, s);
    if (!transpose) /* dx of a convolution: stride 1, the flipped convolution of dy; else the transposed one */
        return max2(conv_dw_scratch(C, OC, K, s, dil),
                    s == 1 ? (size_t)C * OC * K + conv_scratch(OC, C, K, 1, dil) : convT_scratch(OC, C, K, s));
    /* dx of a transposed convolution: the convolution of dy */
    return max2(convT_dw_scratch(C, OC, K, s), conv_scratch(OC, C, K, s, 1));
}

int nn_conv_direct_applies(int s, int dil) { return nn_conv_direct_enabled() && (s == 1 || dil == 1); }

#if DIRECT_X86
#define TARGET __attribute__((target("avx2,fma")))
#define INLINE_TARGET static inline __attribute__((always_inline, target("avx2,fma")))

/* z[r][0 .. NB) = (z[r][..] if add, else bias[r] or 0) + sum_c sum_q w[r ldw + c Q + q] x[c ldx + q dil + 0 .. NB),
 * r < mr */
INLINE_TARGET void kernel_rows(const int mr, float *z, size_t ldz, const float *bias, int add, const float *w, size_t ldw,
                               const float *x, size_t ldx, int C, int Q, int dil) {
    __m256 acc[MR][NV];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        __m256 b0 = _mm256_set1_ps(bias ? bias[r] : 0.0f);
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[r][v] = add ? _mm256_loadu_ps(z + (size_t)r * ldz + 8 * v) : b0;
    }
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * ldx, *wc = w + (size_t)c * (size_t)Q;
        for (int q = 0; q < Q; q++) {
            const float *xp = xc + (size_t)q * (size_t)dil;
            __m256 x0 = _mm256_loadu_ps(xp), x1 = _mm256_loadu_ps(xp + 8), x2 = _mm256_loadu_ps(xp + 16);
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                if (r >= mr) break;
                __m256 wv = _mm256_broadcast_ss(wc + (size_t)r * ldw + q);
                acc[r][0] = _mm256_fmadd_ps(wv, x0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(wv, x1, acc[r][1]);
                acc[r][2] = _mm256_fmadd_ps(wv, x2, acc[r][2]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) _mm256_storeu_ps(z + (size_t)r * ldz + 8 * v, acc[r][v]);
    }
}

/* one block of mr <= MR rows, each row count its own unrolled copy of the kernel */
TARGET static void kernel(int mr, float *z, size_t ldz, const float *bias, int add, const float *w, size_t ldw, const float *x,
                          size_t ldx, int C, int Q, int dil) {
    switch (mr) {
    case 4: kernel_rows(4, z, ldz, bias, add, w, ldw, x, ldx, C, Q, dil); break;
    case 3: kernel_rows(3, z, ldz, bias, add, w, ldw, x, ldx, C, Q, dil); break;
    case 2: kernel_rows(2, z, ldz, bias, add, w, ldw, x, ldx, C, Q, dil); break;
    default: kernel_rows(1, z, ldz, bias, add, w, ldw, x, ldx, C, Q, dil); break;
    }
}

/* z[o][0 .. n) (rows of ldz) = (z if add, else bias[o] or 0) + W (M, C, Q) correlated with xt (C rows
 * of ldx, readable for n rounded up to NB plus (Q - 1) dil). The last block of fewer than NB outputs
 * goes through a small buffer, so z is written only within n. */
static void corr_tile(float *z, size_t ldz, int n, const float *bias, int add, const float *W, int M, int C, int Q, int dil,
                      const float *xt, size_t ldx) {
    const size_t ldw = (size_t)C * (size_t)Q;
    for (int j0 = 0; j0 < n; j0 += NB) {
        const int nb = n - j0 < NB ? n - j0 : NB;
        for (int o0 = 0; o0 < M; o0 += MR) {
            const int mr = M - o0 < MR ? M - o0 : MR;
            float *zz = z + (size_t)o0 * ldz + (size_t)j0;
            const float *w = W + (size_t)o0 * ldw, *x = xt + (size_t)j0, *b = bias ? bias + o0 : NULL;
            if (nb == NB) {
                kernel(mr, zz, ldz, b, add, w, ldw, x, ldx, C, Q, dil);
                continue;
            }
            float part[MR * NB];
            for (int r = 0; r < mr && add; r++) memcpy(part + r * NB, zz + (size_t)r * ldz, (size_t)nb * sizeof *part);
            kernel(mr, part, NB, b, add, w, ldw, x, ldx, C, Q, dil);
            for (int r = 0; r < mr; r++) memcpy(zz + (size_t)r * ldz, part + r * NB, (size_t)nb * sizeof *part);
        }
    }
}
/* G[r][p] += sum_{j < n} A[r][j] x_p[j] for r < mr rows of A (ld lda) and np <= GP rows x_p; n a
 * multiple of 8. Partial sums in vectors, added across at the end of the tile. */
INLINE_TARGET void grad_rows(const int mr, const int np, float *G, size_t ldg, const float *A, size_t lda,
                             const float *const *xp, int n) {
    __m256 acc[MR][GP];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
        for (int p = 0; p < GP; p++) acc[r][p] = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
        __m256 xv[GP];
#pragma GCC unroll 3
        for (int p = 0; p < GP; p++) xv[p] = p < np ? _mm256_loadu_ps(xp[p] + j) : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            if (r >= mr) break;
            __m256 a = _mm256_loadu_ps(A + (size_t)r * lda + j);
#pragma GCC unroll 3
            for (int p = 0; p < GP; p++)
                if (p < np) acc[r][p] = _mm256_fmadd_ps(a, xv[p], acc[r][p]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
#pragma GCC unroll 3
        for (int p = 0; p < GP; p++) {
            if (p >= np) break;
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[r][p]), _mm256_extractf128_ps(acc[r][p], 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            h = _mm_add_ss(h, _mm_movehdup_ps(h));
            G[(size_t)r * ldg + p] += _mm_cvtss_f32(h);
        }
    }
}

/* one block of mr <= MR rows and np <= GP pairs, each size its own unrolled copy */
TARGET static void grad_block(int mr, int np, float *G, size_t ldg, const float *A, size_t lda, const float *const *xp, int n) {
#define GB(R, P)                                                                                                                 \
    case (R) * 4 + (P): grad_rows(R, P, G, ldg, A, lda, xp, n); break;
    switch (mr * 4 + np) {
        GB(4, 3) GB(4, 2) GB(4, 1) GB(3, 3) GB(3, 2) GB(3, 1) GB(2, 3) GB(2, 2) GB(2, 1) GB(1, 3) GB(1, 2) GB(1, 1)
    }
#undef GB
}

/* G (M, C Q) += A (M rows of lda) times xt (C rows of ldx) shifted by q dil, over n (a multiple of 8) */
static void grad_tile(float *G, const float *A, size_t lda, int M, const float *xt, size_t ldx, int C, int Q, int dil, int n) {
    const int CQ = C * Q;
    for (int p0 = 0; p0 < CQ; p0 += GP) {
        const int np = CQ - p0 < GP ? CQ - p0 : GP;
        const float *xp[GP];
        for (int p = 0; p < GP; p++) {
            int pp = p0 + (p < np ? p : 0);
            xp[p] = xt + (size_t)(pp / Q) * ldx + (size_t)(pp % Q) * (size_t)dil;
        }
        for (int o0 = 0; o0 < M; o0 += MR) {
            const int mr = M - o0 < MR ? M - o0 : MR;
            grad_block(mr, np, G + (size_t)o0 * CQ + p0, (size_t)CQ, A + (size_t)o0 * lda, lda, xp, n);
        }
    }
}
#else
static void grad_tile(float *G, const float *A, size_t lda, int M, const float *xt, size_t ldx, int C, int Q, int dil, int n) {
    (void)G, (void)A, (void)lda, (void)M, (void)xt, (void)ldx, (void)C, (void)Q, (void)dil, (void)n;
}
static void corr_tile(float *z, size_t ldz, int n, const float *bias, int add, const float *W, int M, int C, int Q, int dil,
                      const float *xt, size_t ldx) {
    (void)z, (void)ldz, (void)n, (void)bias, (void)add, (void)W, (void)M, (void)C, (void)Q, (void)dil, (void)xt, (void)ldx;
}
#endif

/* xt[c s + r][j] = x[c][j s + r + off] for j < len, 0 outside the row's 0 .. T-1; rows of ldx. */
static void gather(float *xt, size_t ldx, const float *x, int C, int T, int s, long off, int len) {
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * (size_t)T;
        float *d = xt + (size_t)c * (size_t)s * ldx;
        if (s == 1) { /* one copy between zeros */
            long a = off < 0 ? -off : 0, z = (long)T - off;
            if (a > len) a = len; /* padding longer than the tile */
            if (z > len) z = len;
            if (z < a) z = a;
            memset(d, 0, (size_t)a * sizeof *d);
            if (z > a) memcpy(d + a, xc + a + off, (size_t)(z - a) * sizeof *d);
            memset(d + z, 0, (size_t)(len - z) * sizeof *d);
            continue;
        }
        /* s phases: for j in [lo, hi) all of j s + r + off (r < s) are inside the row, copied reading x
         * in order; the edges are tested sample by sample */
        long lo = off >= 0 ? 0 : (-off + s - 1) / s, hi = (long)T - s - off >= 0 ? ((long)T - s - off) / s + 1 : 0;
        if (lo > len) lo = len;
        if (hi > len) hi = len;
        if (hi < lo) hi = lo;
        for (long j = lo; j < hi; j++) {
            const float *src = xc + j * s + off;
            for (int r = 0; r < s; r++) d[(size_t)r * ldx + (size_t)j] = src[r];
        }
        for (int r = 0; r < s; r++)
            for (int side = 0; side < 2; side++)
                for (long j = side ? hi : 0; j < (side ? len : lo); j++) {
                    long i = j * s + r + off;
                    d[(size_t)r * ldx + (size_t)j] = i >= 0 && i < T ? xc[i] : 0.0f;
                }
    }
}

/* y[o][t] for t < n_out: (y if acc, else b[o] or 0) + sum_c sum_k w[o][c][k] x[c][t s + k dil - pad];
 * x (C, T), w (OC, C, K), y (OC, n_out). Dilation only with stride 1. */
void nn_conv_direct(float *y, int acc, const float *x, int C, int T, const float *w, const float *b, int OC, int K, int s,
                    int dil, long pad, int n_out, float *scratch) {
    const int Q = s > 1 ? (K + s - 1) / s : K, Cp = C * s, dilp = s > 1 ? 1 : dil;
    const size_t halo = (size_t)(Q - 1) * (size_t)dilp, ldx = DTILE + halo;
    const float *W = w;
    float *at = scratch;
    if (s > 1) { /* W[o][c s + r][q] = w[o][c][q s + r] */
        float *Wp = at;
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++)
                for (int r = 0; r < s; r++)
                    for (int q = 0; q < Q; q++) {
                        int k = q * s + r;
                        Wp[(((size_t)o * Cp) + (size_t)c * s + r) * Q + q] = k < K ? w[((size_t)o * C + c) * K + k] : 0.0f;
                    }
        W = Wp;
        at += (size_t)OC * Cp * Q;
    }
    float *xt = at;
    for (int t0 = 0; t0 < n_out; t0 += DTILE) {
        const int nt = n_out - t0 < DTILE ? n_out - t0 : DTILE;
        const int len = (int)(ceil_div((size_t)nt, NB) * NB + halo);
        const long first = (long)t0 * s - pad;
        if (s == 1 && first >= 0 && first + len <= T) /* inside the signal: read it where it is */
            corr_tile(y + t0, (size_t)n_out, nt, b, acc, W, OC, C, Q, dilp, x + first, (size_t)T);
        else {
            gather(xt, ldx, x, C, T, s, first, len);
            corr_tile(y + t0, (size_t)n_out, nt, b, acc, W, OC, Cp, Q, dilp, xt, ldx);
        }
    }
}

/* y[o][t] for t < n_out: (y if acc, else b[o] or 0) + the sum of x[c][i] w[c][o][k] over c and the
 * (i, k) with t = i s + k - pad; x (C, T), w (C, OC, K), y (OC, n_out); dilation 1. */
void nn_convT_direct(float *y, int acc, const float *x, int C, int T, const float *w, const float *b, int OC, int K, int s,
                     long pad, int n_out, float *scratch) {
    const int Q = (K + s - 1) / s, M = OC * s;
    const size_t ldx = DTILE + (size_t)(Q - 1);
    float *W = scratch, *xt = W + (size_t)M * C * Q, *z = xt + (size_t)C * ldx;
    for (int o = 0; o < OC; o++) /* W[o s + r][c][j] = w[c][o][(Q - 1 - j) s + r] */
        for (int r = 0; r < s; r++)
            for (int c = 0; c < C; c++)
                for (int j = 0; j < Q; j++) {
                    int k = (Q - 1 - j) * s + r;
                    W[(((size_t)o * s + r) * C + c) * Q + j] = k < K ? w[((size_t)c * OC + o) * K + k] : 0.0f;
                }
    /* output t = m s + r - pad: phase r of input position m */
    const long m_lo = pad >= 0 ? pad / s : -((-pad + s - 1) / s), m_hi = ((long)n_out - 1 + pad) / s;
    if (!acc)
        for (int o = 0; o < OC; o++)
            for (int t = 0; t < n_out; t++) y[(size_t)o * n_out + t] = b ? b[o] : 0.0f;
    for (long u0 = m_lo; u0 <= m_hi; u0 += DTILE) {
        const int nu = m_hi - u0 + 1 < DTILE ? (int)(m_hi - u0 + 1) : DTILE;
        const int len = (int)(ceil_div((size_t)nu, NB) * NB) + Q - 1;
        gather(xt, ldx, x, C, T, 1, u0 - (Q - 1), len);
        corr_tile(z, DTILE, nu, NULL, 0, W, M, C, Q, 1, xt, ldx);
        for (int o = 0; o < OC; o++)
            for (int r = 0; r < s; r++) {
                const float *zr = z + ((size_t)o * s + r) * DTILE;
                float *yo = y + (size_t)o * n_out;
                for (int j = 0; j < nu; j++) {
                    long t = (u0 + j) * s + r - pad;
                    if (t >= 0 && t < n_out) yo[t] += zr[j];
                }
            }
    }
}

/* ---- weight gradients ---- */

static int round8(int n) { return (n + 7) & ~7; }

/* A tile of dy rows [t0, t0 + nt) readable to a multiple of 8: dy itself inside, else a zero-padded copy. */
static const float *dy_tile(float *buf, const float *dy, int OC, int n_out, int t0, int nt, size_t *ld) {
    if (t0 + round8(nt) <= n_out) {
        *ld = (size_t)n_out;
        return dy + t0;
    }
    for (int o = 0; o < OC; o++) {
        float *d = buf + (size_t)o * GTILE;
        memcpy(d, dy + (size_t)o * n_out + t0, (size_t)nt * sizeof *d);
        memset(d + nt, 0, (size_t)(round8(nt) - nt) * sizeof *d);
    }
    *ld = GTILE;
    return buf;
}

/* dw (OC, C, K) += the gradient of y = conv(x, w) (stride s, dilation dil, padding pad) given dy (OC, n_out). */
void nn_conv_direct_dw(float *dw, const float *x, int C, int T, const float *dy, int OC, int n_out, int K, int s, int dil,
                       long pad, float *scratch) {
    const int Q = s > 1 ? (K + s - 1) / s : K, Cp = C * s, dilp = s > 1 ? 1 : dil;
    const size_t halo = (size_t)(Q - 1) * (size_t)dilp, ldx = GTILE + halo;
    float *abuf = scratch, *xt = abuf + (size_t)OC * GTILE, *G = s > 1 ? xt + (size_t)Cp * ldx : dw;
    if (s > 1) memset(G, 0, (size_t)OC * Cp * Q * sizeof *G);
    for (int t0 = 0; t0 < n_out; t0 += GTILE) {
        const int nt = n_out - t0 < GTILE ? n_out - t0 : GTILE;
        size_t lda;
        const float *A = dy_tile(abuf, dy, OC, n_out, t0, nt, &lda);
        const long first = (long)t0 * s - pad;
        const int len = round8(nt) + (int)halo;
        if (s == 1 && first >= 0 && first + len <= T)
            grad_tile(G, A, lda, OC, x + first, (size_t)T, C, Q, dilp, round8(nt));
        else {
            gather(xt, ldx, x, C, T, s, first, len);
            grad_tile(G, A, lda, OC, xt, ldx, Cp, Q, dilp, round8(nt));
        }
    }
    if (s > 1) /* dw[o][c][q s + r] = G[o][c s + r][q] */
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++)
                for (int r = 0; r < s; r++)
                    for (int q = 0; q < Q; q++)
                        if (q * s + r < K) dw[((size_t)o * C + c) * K + q * s + r] += G[(((size_t)o * Cp) + (size_t)c * s + r) * Q + q];
}

/* dw (C, OC, K) += the gradient of y = convT(x, w) (stride s, padding pad, dilation 1) given dy (OC, n_out):
 * the phases of dy (rows o s + r) against the input, as nn_convT_direct pairs them. */
void nn_convT_direct_dw(float *dw, const float *x, int C, int T, const float *dy, int OC, int n_out, int K, int s, long pad,
                        float *scratch) {
    const int Q = (K + s - 1) / s, M = OC * s;
    const size_t ldx = GTILE + (size_t)(Q - 1);
    float *A = scratch, *xt = A + (size_t)M * GTILE, *G = xt + (size_t)C * ldx;
    memset(G, 0, (size_t)M * C * Q * sizeof *G);
    const long m_lo = pad >= 0 ? pad / s : -((-pad + s - 1) / s), m_hi = ((long)n_out - 1 + pad) / s;
    for (long u0 = m_lo; u0 <= m_hi; u0 += GTILE) {
        const int nu = m_hi - u0 + 1 < GTILE ? (int)(m_hi - u0 + 1) : GTILE;
        /* A[o s + r][j] = dy[o][(u0 + j) s + r - pad], 0 outside dy and beyond nu */
        gather(A, GTILE, dy, OC, n_out, s, u0 * s - pad, round8(nu));
        for (int rrow = 0; rrow < M; rrow++)
            for (int j = nu; j < round8(nu); j++) A[(size_t)rrow * GTILE + j] = 0.0f;
        gather(xt, ldx, x, C, T, 1, u0 - (Q - 1), round8(nu) + Q - 1);
        grad_tile(G, A, GTILE, M, xt, ldx, C, Q, 1, round8(nu));
    }
    for (int o = 0; o < OC; o++) /* dw[c][o][(Q - 1 - j) s + r] = G[o s + r][c][j] */
        for (int r = 0; r < s; r++)
            for (int c = 0; c < C; c++)
                for (int j = 0; j < Q; j++) {
                    int k = (Q - 1 - j) * s + r;
                    if (k < K) dw[((size_t)c * OC + o) * K + k] += G[(((size_t)o * s + r) * C + c) * Q + j];
                }
}

/* ---- ELU on AVX2 and FMA ----
 * exp(x) for x <= 0 as 2^n p(r), n = round(x / ln 2), r = x - n ln 2 (in two parts), p the degree-6
 * Taylor polynomial (relative error below 3e-7, as nn_exp); fused multiply-adds and two vectors a
 * step keep the dependency chains short. NaN inputs give NaN (ELU's own), -inf gives -alpha. */
#if DIRECT_X86
INLINE_TARGET __m256 exp_nonpositive(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 fn = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

/* elu(x) (forward), or its derivative times dy added to dx (backward) for one vector */
INLINE_TARGET __m256 elu_vec(__m256 v, __m256 alpha) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 e = exp_nonpositive(_mm256_min_ps(v, zero));
    __m256 neg = _mm256_mul_ps(alpha, _mm256_sub_ps(e, _mm256_set1_ps(1.0f)));
    __m256 y = _mm256_blendv_ps(neg, v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
    return _mm256_blendv_ps(y, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
INLINE_TARGET __m256 elu_grad_vec(__m256 v, __m256 dy, __m256 alpha) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 e = exp_nonpositive(_mm256_min_ps(v, zero));
    __m256 g = _mm256_mul_ps(_mm256_mul_ps(dy, alpha), e);
    g = _mm256_blendv_ps(g, dy, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
    return _mm256_blendv_ps(g, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

TARGET static size_t elu_forward_avx2(float *y, const float *x, size_t n, float alpha) {
    const __m256 a = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = elu_vec(_mm256_loadu_ps(x + i), a), y1 = elu_vec(_mm256_loadu_ps(x + i + 8), a);
        _mm256_storeu_ps(y + i, y0), _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, elu_vec(_mm256_loadu_ps(x + i), a));
    return i;
}

TARGET static size_t elu_backward_avx2(float *dx, const float *dy, const float *x, size_t n, float alpha) {
    const __m256 a = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = elu_grad_vec(_mm256_loadu_ps(x + i), _mm256_loadu_ps(dy + i), a);
        _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), g));
    }
    return i;
}
#endif

size_t nn_elu_forward_fast(float *y, const float *x, size_t n, float alpha) {
#if DIRECT_X86
    if (nn_conv_direct_enabled()) return elu_forward_avx2(y, x, n, alpha);
#endif
    (void)y, (void)x, (void)n, (void)alpha;
    return 0;
}

size_t nn_elu_backward_fast(float *dx, const float *dy, const float *x, size_t n, float alpha) {
#if DIRECT_X86
    if (nn_conv_direct_enabled()) return elu_backward_avx2(dx, dy, x, n, alpha);
#endif
    (void)dx, (void)dy, (void)x, (void)n, (void)alpha;
    return 0;
}
