/* Magenta's attention cell wrapper around an LSTM layer (tf.contrib.rnn.AttentionCellWrapper, used by
 * Magenta's attention_rnn on its first layer; Bahdanau et al. style additive attention as described in
 * arXiv 1601.06733). The formulas are in cadenza/nn.h. The attention reads the last L outputs of the
 * layer, with zeros standing for the outputs before the first step, as the wrapper's zero initial
 * state does. Forward and backward loop over steps; everything that does not depend on the previous
 * step (input projections, weight gradients) is done as one matrix product over all steps. */
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

size_t cdz_attn_lstm_act_floats(int C, int H, int L) { return (size_t)C + 4 * (size_t)H + 4 * (size_t)H + L + H; }

void cdz_attn_lstm_acts_slice(cdz_attn_lstm_acts *a, float *buf, int T, int B, int C, int H, int L) {
    size_t n = (size_t)T * B;
    a->xp = buf, buf += n * C;
    a->h = buf, buf += n * H;
    a->c = buf, buf += n * H;
    a->gates = buf, buf += n * 4 * H;
    a->y = buf, buf += n * H;
    a->hf = buf, buf += n * H;
    a->a = buf, buf += n * L;
    a->d = buf;
}

/* The attention read of one row: scores against the L slots (slot_o[j], slot_hf[j]; NULL for an
 * empty slot, which reads as a zero output), softmax into a, weighted sum of the slot outputs into d. */
NN_CLONES static void attend_row(float *d, float *a, const float *y, const float *const *slot_o, const float *const *slot_hf,
                       const float *v, int H, int L) {
    float zero_score = 0, max = -1e30f; /* the score of an empty slot: v . tanh(y) */
#pragma omp simd reduction(+ : zero_score)
    for (int k = 0; k < H; k++) zero_score += v[k] * nn_tanh(y[k]);
    for (int j = 0; j < L; j++) {
        float e = zero_score;
        if (slot_hf[j]) {
            const float *hf = slot_hf[j];
            e = 0;
#pragma omp simd reduction(+ : e)
            for (int k = 0; k < H; k++) e += v[k] * nn_tanh(hf[k] + y[k]);
        }
        a[j] = e;
        if (e > max) max = e;
    }
    float sum = 0;
    for (int j = 0; j < L; j++) sum += a[j] = nn_exp(a[j] - max);
    for (int j = 0; j < L; j++) a[j] /= sum;
    memset(d, 0, (size_t)H * sizeof *d);
    for (int j = 0; j < L; j++)
        if (slot_o[j]) {
            const float *o = slot_o[j];
            float aj = a[j];
#pragma omp simd
            for (int k = 0; k < H; k++) d[k] += aj * o[k];
        }
}

/* Training layout: slot j of step t is step t - L + j of the same row, empty before step 0. */
static void attend(float *d, float *a, const float *y, const float *o_all, const float *hf_all, const float *v, int t,
                   int B, int H, int L) {
    for (int bi = 0; bi < B; bi++) {
        const float *so[CDZ_ATTN_MAX_LENGTH], *sh[CDZ_ATTN_MAX_LENGTH];
        for (int j = 0; j < L; j++) {
            int s = t - L + j;
            so[j] = s >= 0 ? o_all + ((size_t)s * B + bi) * H : NULL;
            sh[j] = s >= 0 ? hf_all + ((size_t)s * B + bi) * H : NULL;
        }
        attend_row(d + (size_t)bi * H, a + (size_t)bi * L, y + (size_t)bi * H, so, sh, v, H, L);
    }
}

/* The gradient of one row's attention read: from dd (the read's gradient) into dy (the query
 * projection), dv, and the slots' outputs and features (dslot_o, dslot_hf; NULL for empty slots).
 * da is scratch of L floats. */
NN_CLONES static void attend_row_backward(float *dy, float *dv, float *const *dslot_o, float *const *dslot_hf, float *da,
                                          const float *dd, const float *a, const float *y, const float *const *slot_o,
                                          const float *const *slot_hf, const float *v, int H, int L) {
    static const float zeros[CDZ_LSTM_MAX_WIDTH];
    float sum = 0;
    for (int j = 0; j < L; j++) {
        float dj = 0;
        if (slot_o[j]) {
            const float *os = slot_o[j];
            float *dos = dslot_o[j], aj = a[j];
#pragma omp simd reduction(+ : dj)
            for (int k = 0; k < H; k++) dj += dd[k] * os[k], dos[k] += aj * dd[k];
        }
        da[j] = dj;
        sum += a[j] * dj;
    }
    for (int j = 0; j < L; j++) {
        float de = a[j] * (da[j] - sum);
        const float *hf = slot_hf[j] ? slot_hf[j] : zeros;
        if (slot_hf[j]) {
            float *dhf = dslot_hf[j];
#pragma omp simd
            for (int k = 0; k < H; k++) {
                float z = nn_tanh(hf[k] + y[k]);
                dv[k] += de * z;
                float dpre = de * v[k] * (1 - z * z);
                dy[k] += dpre;
                dhf[k] += dpre;
            }
        } else {
#pragma omp simd
            for (int k = 0; k < H; k++) {
                float z = nn_tanh(y[k]);
                dv[k] += de * z;
                dy[k] += de * v[k] * (1 - z * z);
            }
        }
    }
}

static void bias_rows(float *y, const float *b, int N, int M) {
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * M, b, (size_t)M * sizeof *y);
}

void cdz_attn_lstm_forward(float *o, const cdz_attn_lstm_acts *A, const float *x, const cdz_attn_lstm_params *p, int T,
                           int B, int C, int H, int L) {
    CDZ_ASSERT(L >= 1 && L <= CDZ_ATTN_MAX_LENGTH && H <= CDZ_LSTM_MAX_WIDTH); /* stack rows of those sizes */
    const int G = 4 * H, CI = C + H;
    const size_t bh = (size_t)B * H;
    /* the input part of xp for all steps: x w_in[:, :C]^T + b_in */
    bias_rows(A->xp, p->b_in, T * B, C);
    nn_gemm_ld(0, 1, T * B, C, C, x, C, p->w_in, CI, A->xp, C);
    for (int t = 0; t < T; t++) {
        float *xp = A->xp + (size_t)t * B * C, *gt = A->gates + (size_t)t * B * G;
        float *ht = A->h + (size_t)t * bh, *ct = A->c + (size_t)t * bh, *yt = A->y + (size_t)t * bh;
        float *dt = A->d + (size_t)t * bh, *ot = o + (size_t)t * bh, *hft = A->hf + (size_t)t * bh;
        if (t) nn_gemm_ld(0, 1, B, C, H, A->d + (size_t)(t - 1) * bh, H, p->w_in + C, CI, xp, C);
        bias_rows(gt, p->b, B, G);
        nn_gemm_acc(0, 1, B, G, C, xp, p->w_ih, gt);
        if (t) nn_gemm_acc(0, 1, B, G, H, A->h + (size_t)(t - 1) * bh, p->w_hh, gt);
        cdz_lstm_cell_forward(ht, ct, gt, t ? A->c + (size_t)(t - 1) * bh : NULL, B, H);
        /* query from the new state [c ; h] (TF flattens an LSTMStateTuple as c, then h) */
        bias_rows(yt, p->b_q, B, H);
        nn_gemm_ld(0, 1, B, H, H, ct, H, p->w_q, 2 * H, yt, H);
        nn_gemm_ld(0, 1, B, H, H, ht, H, p->w_q + H, 2 * H, yt, H);
        attend(dt, A->a + (size_t)t * B * L, yt, o, A->hf, p->v, t, B, H, L);
        bias_rows(ot, p->b_o, B, H);
        nn_gemm_ld(0, 1, B, H, H, ht, H, p->w_o, 2 * H, ot, H);
        nn_gemm_ld(0, 1, B, H, H, dt, H, p->w_o + H, 2 * H, ot, H);
        memset(hft, 0, bh * sizeof *hft);
        nn_gemm_acc(0, 1, B, H, H, ot, p->k, hft);
    }
}

size_t cdz_attn_lstm_scratch_floats(int T, int B, int C, int H, int L) {
    return (size_t)T * B * (6 * (size_t)H + C) + 5 * (size_t)B * H + (size_t)B * L;
}

void cdz_attn_lstm_backward(float *dx, const cdz_attn_lstm_grads *g, float *scratch, float *do_, const float *o,
                            const cdz_attn_lstm_acts *A, const float *x, const cdz_attn_lstm_params *p, int T, int B,
                            int C, int H, int L) {
    CDZ_ASSERT(L >= 1 && L <= CDZ_ATTN_MAX_LENGTH && H <= CDZ_LSTM_MAX_WIDTH); /* stack rows of those sizes */
    const int G = 4 * H, CI = C + H;
    const size_t bh = (size_t)B * H, n = (size_t)T * B;
    float *dhf = scratch, *dy = dhf + n * H, *dgates = dy + n * H, *dxp = dgates + n * G;
    float *dd_next = dxp + n * C, *dh_next = dd_next + bh, *dc_next = dh_next + bh, *dh = dc_next + bh, *dd = dh + bh;
    memset(dhf, 0, n * H * sizeof *dhf);
    memset(dd_next, 0, 3 * bh * sizeof *dd_next); /* dd_next, dh_next, dc_next */
    for (int t = T - 1; t >= 0; t--) {
        float *dot = do_ + (size_t)t * bh, *dyt = dy + (size_t)t * bh, *dgt = dgates + (size_t)t * B * G;
        float *dxpt = dxp + (size_t)t * B * C;
        const float *at = A->a + (size_t)t * B * L, *yt = A->y + (size_t)t * bh;
        const float *ct = A->c + (size_t)t * bh;
        /* hf_t = o_t k^T: every later step's attention has sent its gradient into dhf_t by now */
        nn_gemm_acc(0, 0, B, H, H, dhf + (size_t)t * bh, p->k, dot);
        /* o_t = [h ; d] w_o^T + b_o */
        memcpy(dh, dh_next, bh * sizeof *dh);
        memcpy(dd, dd_next, bh * sizeof *dd);
        nn_gemm_ld(0, 0, B, H, H, dot, H, p->w_o, 2 * H, dh, H);
        nn_gemm_ld(0, 0, B, H, H, dot, H, p->w_o + H, 2 * H, dd, H);
        /* the attention read d_t = sum_j a_j o_j and its scores */
        memset(dyt, 0, bh * sizeof *dyt);
        float *dv = g->v;
        for (int bi = 0; bi < B; bi++) {
            const float *so[CDZ_ATTN_MAX_LENGTH], *sh[CDZ_ATTN_MAX_LENGTH];
            float *dso[CDZ_ATTN_MAX_LENGTH], *dsh[CDZ_ATTN_MAX_LENGTH], row_da[CDZ_ATTN_MAX_LENGTH];
            for (int j = 0; j < L; j++) {
                int s = t - L + j;
                size_t off = ((size_t)(s < 0 ? 0 : s) * B + bi) * H;
                so[j] = s >= 0 ? o + off : NULL, sh[j] = s >= 0 ? A->hf + off : NULL;
                dso[j] = s >= 0 ? do_ + off : NULL, dsh[j] = s >= 0 ? dhf + off : NULL;
            }
            attend_row_backward(dyt + (size_t)bi * H, dv, dso, dsh, row_da, dd + (size_t)bi * H, at + (size_t)bi * L,
                                yt + (size_t)bi * H, so, sh, p->v, H, L);
        }
        /* y = [c ; h] w_q^T + b_q */
        /* (dc_next already holds what step t + 1 sent back into c_t) */
        nn_gemm_ld(0, 0, B, H, H, dyt, H, p->w_q, 2 * H, dc_next, H);
        nn_gemm_ld(0, 0, B, H, H, dyt, H, p->w_q + H, 2 * H, dh, H);
        /* the LSTM cell, then what flows to step t - 1 */
        cdz_lstm_cell_backward(dgt, dc_next, dh, dc_next, A->gates + (size_t)t * B * G, ct,
                               t ? A->c + (size_t)(t - 1) * bh : NULL, B, H);
        memset(dh_next, 0, bh * sizeof *dh_next);
        nn_gemm_acc(0, 0, B, H, G, dgt, p->w_hh, dh_next);
        memset(dxpt, 0, (size_t)B * C * sizeof *dxpt);
        nn_gemm_acc(0, 0, B, C, G, dgt, p->w_ih, dxpt);
        memset(dd_next, 0, bh * sizeof *dd_next);
        nn_gemm_ld(0, 0, B, H, C, dxpt, C, p->w_in + C, CI, dd_next, H);
    }
    /* weight gradients over all steps at once */
    nn_gemm_acc(1, 0, H, H, (int)n, dhf, o, g->k);
    nn_gemm_ld(1, 0, H, H, (int)n, do_, H, A->h, H, g->w_o, 2 * H);
    nn_gemm_ld(1, 0, H, H, (int)n, do_, H, A->d, H, g->w_o + H, 2 * H);
    nn_gemm_ld(1, 0, H, H, (int)n, dy, H, A->c, H, g->w_q, 2 * H);
    nn_gemm_ld(1, 0, H, H, (int)n, dy, H, A->h, H, g->w_q + H, 2 * H);
    if (T > 1) nn_gemm_acc(1, 0, G, H, (T - 1) * B, dgates + (size_t)B * G, A->h, g->w_hh);
    nn_gemm_acc(1, 0, G, C, (int)n, dgates, A->xp, g->w_ih);
    nn_gemm_ld(1, 0, C, C, (int)n, dxp, C, x, C, g->w_in, CI);
    if (T > 1) nn_gemm_ld(1, 0, C, H, (T - 1) * B, dxp + (size_t)B * C, C, A->d, H, g->w_in + C, CI);
    if (dx) nn_gemm_ld(0, 0, (int)n, C, C, dxp, C, p->w_in, CI, dx, C);
    for (size_t r = 0; r < n; r++) {
        for (int k = 0; k < H; k++) g->b_o[k] += do_[r * H + k], g->b_q[k] += dy[r * H + k];
        for (int k = 0; k < G; k++) g->b[k] += dgates[r * G + k];
        for (int k = 0; k < C; k++) g->b_in[k] += dxp[r * C + k];
    }
}

size_t cdz_attn_lstm_step_scratch_floats(int B, int C, int H, int L) {
    return (size_t)B * ((size_t)C + 4 * (size_t)H + 2 * (size_t)H + L);
}

void cdz_attn_lstm_step(float *o, float *h, float *c, float *d, float *slots_o, float *slots_hf, float *scratch,
                        const float *x, const cdz_attn_lstm_params *p, int B, int C, int H, int L) {
    CDZ_ASSERT(L >= 1 && L <= CDZ_ATTN_MAX_LENGTH && H <= CDZ_LSTM_MAX_WIDTH); /* stack rows of those sizes */
    const int G = 4 * H, CI = C + H;
    const size_t bh = (size_t)B * H;
    float *xp = scratch, *gates = xp + (size_t)B * C, *y = gates + (size_t)B * G, *dn = y + bh, *a = dn + bh;
    bias_rows(xp, p->b_in, B, C);
    nn_gemm_ld(0, 1, B, C, C, x, C, p->w_in, CI, xp, C);
    nn_gemm_ld(0, 1, B, C, H, d, H, p->w_in + C, CI, xp, C);
    bias_rows(gates, p->b, B, G);
    nn_gemm_acc(0, 1, B, G, C, xp, p->w_ih, gates);
    nn_gemm_acc(0, 1, B, G, H, h, p->w_hh, gates);
    cdz_lstm_cell_forward(h, c, gates, c, B, H); /* in place: each element reads c before writing it */
    bias_rows(y, p->b_q, B, H);
    nn_gemm_ld(0, 1, B, H, H, c, H, p->w_q, 2 * H, y, H);
    nn_gemm_ld(0, 1, B, H, H, h, H, p->w_q + H, 2 * H, y, H);
    const float *so[CDZ_ATTN_MAX_LENGTH], *sh[CDZ_ATTN_MAX_LENGTH];
    for (int bi = 0; bi < B; bi++) {
        /* zero slots read exactly as empty ones: K 0 = 0 features, and they add nothing to d */
        for (int j = 0; j < L; j++) {
            so[j] = slots_o + ((size_t)bi * L + j) * H;
            sh[j] = slots_hf + ((size_t)bi * L + j) * H;
        }
        attend_row(dn + (size_t)bi * H, a + (size_t)bi * L, y + (size_t)bi * H, so, sh, p->v, H, L);
    }
    memcpy(d, dn, bh * sizeof *d);
    bias_rows(o, p->b_o, B, H);
    nn_gemm_ld(0, 1, B, H, H, h, H, p->w_o, 2 * H, o, H);
    nn_gemm_ld(0, 1, B, H, H, d, H, p->w_o + H, 2 * H, o, H);
    /* the oldest slot leaves, the new output and its features come in last */
    for (int bi = 0; bi < B; bi++) {
        float *ro = slots_o + (size_t)bi * L * H, *rh = slots_hf + (size_t)bi * L * H;
        memmove(ro, ro + H, (size_t)(L - 1) * H * sizeof *ro);
        memmove(rh, rh + H, (size_t)(L - 1) * H * sizeof *rh);
        memcpy(ro + (size_t)(L - 1) * H, o + (size_t)bi * H, (size_t)H * sizeof *ro);
        memset(rh + (size_t)(L - 1) * H, 0, (size_t)H * sizeof *rh);
        nn_gemm_acc(0, 1, 1, H, H, o + (size_t)bi * H, p->k, rh + (size_t)(L - 1) * H);
    }
}
