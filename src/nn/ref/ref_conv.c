/* The reference backend's audio layers (cadenza/nn.h, "audio layers"): every output and gradient a
 * direct sum from its definition, in double, with no unfolding and no BLAS (ref.h's rules). The
 * output lengths and padding modes are the contracts' own (cdz_conv1d_out_len and the rest are shared). */
#include "ref.h"

/* The input sample output t of kernel tap k reads, or -1 in the padding. */
static int tap(const cdz_conv1d_shape *s, int t, int k) {
    int i = t * s->stride + k * s->dilation - s->pad_left;
    return i >= 0 && i < s->T ? i : -1;
}

void ref_conv1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b, const cdz_conv1d_shape *s) {
    (void)scratch;
    const int to = cdz_conv1d_out_len(s), cg = s->C / s->groups, og = s->OC / s->groups;
    for (int n = 0; n < s->B; n++)
        for (int o = 0; o < s->OC; o++) {
            const int g = o / og;
            for (int t = 0; t < to; t++) {
                double sum = b ? b[o] : 0.0;
                for (int c = 0; c < cg; c++)
                    for (int k = 0; k < s->K; k++) {
                        int i = tap(s, t, k);
                        if (i >= 0)
                            sum += (double)w[((size_t)o * cg + c) * s->K + k] * x[((size_t)n * s->C + g * cg + c) * s->T + i];
                    }
                y[((size_t)n * s->OC + o) * to + t] = (float)sum;
            }
        }
}

void ref_conv1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x, const float *w,
                         const cdz_conv1d_shape *s) {
    (void)scratch;
    const int to = cdz_conv1d_out_len(s), cg = s->C / s->groups, og = s->OC / s->groups;
    for (int o = 0; o < s->OC; o++) {
        const int g = o / og;
        if (db) {
            double sum = 0;
            for (int n = 0; n < s->B; n++)
                for (int t = 0; t < to; t++) sum += dy[((size_t)n * s->OC + o) * to + t];
            ref_add(&db[o], sum);
        }
        for (int c = 0; c < cg; c++)
            for (int k = 0; k < s->K; k++) {
                double sum = 0;
                for (int n = 0; n < s->B; n++)
                    for (int t = 0; t < to; t++) {
                        int i = tap(s, t, k);
                        if (i >= 0) sum += (double)dy[((size_t)n * s->OC + o) * to + t] * x[((size_t)n * s->C + g * cg + c) * s->T + i];
                    }
                ref_add(&dw[((size_t)o * cg + c) * s->K + k], sum);
            }
    }
    if (!dx) return;
    /* dx[n, g cg + c, i] = sum over the group's o, k and the t with tap(t, k) = i of w[o, c, k] dy[n, o, t] */
    for (int n = 0; n < s->B; n++)
        for (int ci = 0; ci < s->C; ci++) {
            const int g = ci / cg, c = ci % cg;
            for (int i = 0; i < s->T; i++) {
                double sum = 0;
                for (int o = g * og; o < (g + 1) * og; o++)
                    for (int k = 0; k < s->K; k++) {
                        int num = i + s->pad_left - k * s->dilation;
                        if (num < 0 || num % s->stride) continue;
                        int t = num / s->stride;
                        if (t < to) sum += (double)w[((size_t)o * cg + c) * s->K + k] * dy[((size_t)n * s->OC + o) * to + t];
                    }
                ref_add(&dx[((size_t)n * s->C + ci) * s->T + i], sum);
            }
        }
}

/* Output sample j of input sample t and tap k in a transposed convolution, or -1 when cropped. */
static int spread(const cdz_conv1d_shape *s, int to, int t, int k) {
    int j = t * s->stride + k * s->dilation - s->pad_left;
    return j >= 0 && j < to ? j : -1;
}

void ref_conv_transpose1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                                  const cdz_conv1d_shape *s) {
    (void)scratch;
    const int to = cdz_conv_transpose1d_out_len(s), cg = s->C / s->groups, og = s->OC / s->groups;
    /* y[n, o, j] = b[o] + sum over the group's input channels ci, taps k and samples t with
     * spread(t, k) = j of w[ci, o - g og, k] x[n, ci, t] */
    for (int n = 0; n < s->B; n++)
        for (int o = 0; o < s->OC; o++) {
            const int g = o / og, oo = o % og;
            for (int j = 0; j < to; j++) {
                double sum = b ? b[o] : 0.0;
                for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                    for (int k = 0; k < s->K; k++) {
                        int num = j + s->pad_left - k * s->dilation;
                        if (num < 0 || num % s->stride) continue;
                        int t = num / s->stride;
                        if (t < s->T) sum += (double)w[((size_t)ci * og + oo) * s->K + k] * x[((size_t)n * s->C + ci) * s->T + t];
                    }
                y[((size_t)n * s->OC + o) * to + j] = (float)sum;
            }
        }
}

void ref_conv_transpose1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                                   const float *w, const cdz_conv1d_shape *s) {
    (void)scratch;
    const int to = cdz_conv_transpose1d_out_len(s), cg = s->C / s->groups, og = s->OC / s->groups;
    if (db)
        for (int o = 0; o < s->OC; o++) {
            double sum = 0;
            for (int n = 0; n < s->B; n++)
                for (int j = 0; j < to; j++) sum += dy[((size_t)n * s->OC + o) * to + j];
            ref_add(&db[o], sum);
        }
    for (int ci = 0; ci < s->C; ci++) {
        const int g = ci / cg;
        for (int oo = 0; oo < og; oo++)
            for (int k = 0; k < s->K; k++) {
                double sum = 0;
                for (int n = 0; n < s->B; n++)
                    for (int t = 0; t < s->T; t++) {
                        int j = spread(s, to, t, k);
                        if (j >= 0) sum += (double)x[((size_t)n * s->C + ci) * s->T + t] * dy[((size_t)n * s->OC + g * og + oo) * to + j];
                    }
                ref_add(&dw[((size_t)ci * og + oo) * s->K + k], sum);
            }
    }
    if (!dx) return;
    for (int n = 0; n < s->B; n++)
        for (int ci = 0; ci < s->C; ci++) {
            const int g = ci / cg;
            for (int t = 0; t < s->T; t++) {
                double sum = 0;
                for (int oo = 0; oo < og; oo++)
                    for (int k = 0; k < s->K; k++) {
                        int j = spread(s, to, t, k);
                        if (j >= 0) sum += (double)w[((size_t)ci * og + oo) * s->K + k] * dy[((size_t)n * s->OC + g * og + oo) * to + j];
                    }
                ref_add(&dx[((size_t)n * s->C + ci) * s->T + t], sum);
            }
        }
}

/* Padded position p's source sample, written out case by case (the CPU's folds; they must agree). */
static int ref_pad_source(int p, int T, cdz_pad_mode mode) {
    if (p >= 0 && p < T) return p;
    switch (mode) {
    case CDZ_PAD_ZEROS: return -1;
    case CDZ_PAD_REPLICATE: return p < 0 ? 0 : T - 1;
    case CDZ_PAD_REFLECT:
        if (T == 1) return 0;
        while (p < 0 || p >= T) p = p < 0 ? -p : 2 * (T - 1) - p;
        return p;
    }
    return -1;
}

void ref_pad1d_forward(float *y, const float *x, int rows, int T, int left, int right, cdz_pad_mode mode) {
    const int n = left + T + right;
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < n; p++) {
            int i = ref_pad_source(p - left, T, mode);
            y[(size_t)r * n + p] = i < 0 ? 0.0f : x[(size_t)r * T + i];
        }
}

void ref_pad1d_backward(float *dx, const float *dy, int rows, int T, int left, int right, cdz_pad_mode mode) {
    const int n = left + T + right;
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < T; i++) {
            double sum = 0;
            for (int p = 0; p < n; p++)
                if (ref_pad_source(p - left, T, mode) == i) sum += dy[(size_t)r * n + p];
            ref_add(&dx[(size_t)r * T + i], sum);
        }
}

void ref_elu_forward(float *y, const float *x, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : (float)(alpha * (exp((double)x[i]) - 1.0));
}

void ref_elu_backward(float *dx, const float *dy, const float *x, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) ref_add(&dx[i], x[i] > 0 ? (double)dy[i] : (double)dy[i] * alpha * exp((double)x[i]));
}

void ref_snake_forward(float *y, const float *x, const float *alpha, int B, int C, int T) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)b * C + c) * T + t;
                double a = alpha[c], sn = sin(a * x[i]);
                y[i] = (float)(x[i] + sn * sn / (a + 1e-9));
            }
}

void ref_snake_backward(float *dx, float *dalpha, const float *dy, const float *x, const float *alpha, int B, int C, int T) {
    for (int c = 0; c < C; c++) {
        double a = alpha[c], e = a + 1e-9, da = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)b * C + c) * T + t;
                double xi = x[i], sn = sin(a * xi), cs = cos(a * xi);
                if (dx) ref_add(&dx[i], dy[i] * (1.0 + 2.0 * sn * cs * a / e));
                da += dy[i] * (2.0 * sn * cs * xi / e - sn * sn / (e * e));
            }
        if (dalpha) ref_add(&dalpha[c], da);
    }
}

void ref_weight_norm_forward(float *w, float *norm, const float *v, const float *g, int O, int n) {
    for (int o = 0; o < O; o++) {
        double nr = sqrt(ref_dot(v + (size_t)o * n, v + (size_t)o * n, n));
        norm[o] = (float)nr;
        for (int i = 0; i < n; i++) w[(size_t)o * n + i] = nr > 0 ? (float)(g[o] * (double)v[(size_t)o * n + i] / nr) : 0.0f;
    }
}

void ref_weight_norm_backward(float *dv, float *dg, const float *dw, const float *v, const float *g, const float *norm,
                              int O, int n) {
    for (int o = 0; o < O; o++) {
        const float *vr = v + (size_t)o * n, *dr = dw + (size_t)o * n;
        double nr = sqrt(ref_dot(vr, vr, n)); /* recomputed in double, not the saved float */
        (void)norm;
        if (!(nr > 0)) continue;
        double du = ref_dot(dr, vr, n) / nr;
        if (dg) ref_add(&dg[o], du);
        for (int i = 0; i < n; i++) ref_add(&dv[(size_t)o * n + i], g[o] / nr * (dr[i] - du * vr[i] / nr));
    }
}

/* Residual VQ from the definition: every code's squared distance summed directly in double (no
 * expanded |z|^2 - 2 z.e + |e|^2), the lowest index on ties. */
void ref_rvq_forward(float *q, int32_t *codes, float *residuals, float *stage_q, float *scratch, const float *z,
                     const float *codebooks, int N, int D, int K, int n_q, int use) {
    (void)scratch;
    memcpy(residuals, z, (size_t)N * D * sizeof *residuals);
    memset(q, 0, (size_t)N * D * sizeof *q);
    for (int n = 0; n < N; n++)
        for (int i = use; i < n_q; i++) codes[(size_t)n * n_q + i] = -1;
    for (int i = 0; i < use; i++) {
        const float *book = codebooks + (size_t)i * K * D;
        float *r = residuals + (size_t)i * N * D, *sq = stage_q + (size_t)i * N * D;
        for (int n = 0; n < N; n++) {
            const float *rn = r + (size_t)n * D;
            int best = 0;
            double bd = INFINITY;
            for (int k = 0; k < K; k++) {
                double d2 = 0;
                for (int d = 0; d < D; d++) {
                    double diff = (double)rn[d] - book[(size_t)k * D + d];
                    d2 += diff * diff;
                }
                if (d2 < bd) bd = d2, best = k;
            }
            codes[(size_t)n * n_q + i] = best;
            for (int d = 0; d < D; d++) {
                float e = book[(size_t)best * D + d];
                sq[(size_t)n * D + d] = e;
                q[(size_t)n * D + d] += e;
                if (i + 1 < use) r[(size_t)N * D + (size_t)n * D + d] = rn[d] - e;
            }
        }
    }
}

void ref_rvq_backward(float *dz, const float *dq, const float *residuals, const float *stage_q, int N, int D, int use, float beta) {
    const double c = 2.0 * beta / ((double)N * D);
    for (size_t j = 0; j < (size_t)N * D; j++) {
        double s = dq[j];
        for (int i = 0; i < use; i++) s += c * ((double)residuals[(size_t)i * N * D + j] - stage_q[(size_t)i * N * D + j]);
        ref_add(&dz[j], s);
    }
}
