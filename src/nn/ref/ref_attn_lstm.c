/* The reference backend's attention-LSTM: Magenta's AttentionCellWrapper (tf.contrib.rnn, used on
 * the first layer of Magenta's attention_rnn; additive attention as arXiv 1601.06733) around one
 * LSTM layer, written step by step and row by row from the equations of cadenza/nn.h:
 *   xp_t = [x_t ; d_{t-1}] w_in^T + b_in
 *   h_t, c_t = LSTM(xp_t, h_{t-1}, c_{t-1})                 (the cell of ref_lstm.c)
 *   y_t = [c_t ; h_t] w_q^T + b_q                             (TF flattens the state as c, then h)
 *   e_tj = v . tanh(hf_j + y_t),  hf_j = K o_j                over the slots j = t-L .. t-1
 *   a_t = softmax(e_t),  d_t = sum_j a_tj o_j
 *   o_t = [h_t ; d_t] w_o^T + b_o
 * A slot before the first step holds a zero output (the wrapper's zero initial attention state): its
 * features are 0, so its score is v . tanh(y_t), and it adds nothing to d_t. d_{-1}, h_{-1}, c_{-1}
 * are zeros. The activations are saved in cadenza/nn.h's cdz_attn_lstm_acts arrays, each (T, B, ..),
 * with the same meaning as the CPU backend's, so a model's backward pass reads them back here. */
#include <math.h>
#include <string.h>

#include "ref.h"

/* out[i] = bias[i] + w1[i] . in1 + w2[i] . in2 for i < M, as one sum in double: row i of w1 (K1
 * floats) starts at w1 + i * ld1, and the same for w2, so that the two halves of a matrix applied to
 * a concatenation [in1 ; in2] are w and w + K1 with ld the full row. in2 NULL reads as zeros (the
 * state before the first step). */
static void affine2(float *out, const float *bias, int M, const float *w1, int ld1, const float *in1, int K1,
                    const float *w2, int ld2, const float *in2, int K2) {
    for (int i = 0; i < M; i++) {
        double s = (double)bias[i] + ref_dot(w1 + (size_t)i * ld1, in1, K1);
        if (in2) s += ref_dot(w2 + (size_t)i * ld2, in2, K2);
        out[i] = (float)s;
    }
}

/* The attention read of one row: scores of the L slots (slot_o[j], slot_hf[j]; NULL for a slot
 * before the first step) against the query y, a = softmax, d = sum_j a_j o_j. */
static void attend(float *d, float *a, const float *y, const float *const *slot_o, const float *const *slot_hf,
                   const float *v, int H, int L) {
    double e[CDZ_ATTN_MAX_LENGTH], max = -INFINITY, sum = 0;
    for (int j = 0; j < L; j++) {
        double s = 0;
        for (int k = 0; k < H; k++) s += (double)v[k] * tanh((slot_hf[j] ? (double)slot_hf[j][k] : 0.0) + y[k]);
        e[j] = s;
        if (s > max) max = s;
    }
    for (int j = 0; j < L; j++) sum += exp(e[j] - max);
    for (int j = 0; j < L; j++) a[j] = (float)(exp(e[j] - max) / sum);
    for (int k = 0; k < H; k++) {
        double s = 0;
        for (int j = 0; j < L; j++)
            if (slot_o[j]) s += exp(e[j] - max) / sum * slot_o[j][k];
        d[k] = (float)s;
    }
}

/* In the (T, B, size) arrays: row b of step t. */
#define ROW(arr, t, b, size) ((arr) + ((size_t)(t) * B + (size_t)(b)) * (size_t)(size))

/* Slot j of step t, row b, is step t - L + j of that row; NULL before step 0. */
static const float *slot(const float *arr, int t, int j, int b, int B, int H, int L) {
    int s = t - L + j;
    return s >= 0 ? ROW(arr, s, b, H) : NULL;
}
/* The same for the gradient arrays the backward pass adds into. */
static float *dslot(float *arr, int t, int j, int b, int B, int H, int L) {
    int s = t - L + j;
    return s >= 0 ? ROW(arr, s, b, H) : NULL;
}

void ref_attn_lstm_forward(float *o, const cdz_attn_lstm_acts *A, const float *x, const cdz_attn_lstm_params *p,
                           int T, int B, int C, int H, int L) {
    CDZ_ASSERT(L > 0 && L <= CDZ_ATTN_MAX_LENGTH);
    const int CI = C + H, G = 4 * H;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *xp = ROW(A->xp, t, b, C), *g = ROW(A->gates, t, b, G), *h = ROW(A->h, t, b, H);
            float *c = ROW(A->c, t, b, H), *y = ROW(A->y, t, b, H), *d = ROW(A->d, t, b, H);
            float *ot = ROW(o, t, b, H);
            const float *d_prev = t ? ROW(A->d, t - 1, b, H) : NULL, *h_prev = t ? ROW(A->h, t - 1, b, H) : NULL;
            affine2(xp, p->b_in, C, p->w_in, CI, ROW(x, t, b, C), C, p->w_in + C, CI, d_prev, H);
            affine2(g, p->b, G, p->w_ih, C, xp, C, p->w_hh, H, h_prev, H);
            ref_lstm_cell_forward(h, c, g, t ? ROW(A->c, t - 1, b, H) : NULL, 1, H);
            affine2(y, p->b_q, H, p->w_q, 2 * H, c, H, p->w_q + H, 2 * H, h, H);
            const float *so[CDZ_ATTN_MAX_LENGTH], *sh[CDZ_ATTN_MAX_LENGTH];
            for (int j = 0; j < L; j++) so[j] = slot(o, t, j, b, B, H, L), sh[j] = slot(A->hf, t, j, b, B, H, L);
            attend(d, ROW(A->a, t, b, L), y, so, sh, p->v, H, L);
            affine2(ot, p->b_o, H, p->w_o, 2 * H, h, H, p->w_o + H, 2 * H, d, H);
            float *hf = ROW(A->hf, t, b, H);
            for (int k = 0; k < H; k++) hf[k] = (float)ref_dot(p->k + (size_t)k * H, ot, H);
        }
}

/* sum_i w[i][col] in[i] over the M rows of the (M, ld) matrix w: one element of in w, the product a
 * gradient flows back through. */
static double col_dot(const float *w, int ld, int col, const float *in, int M) {
    double s = 0;
    for (int i = 0; i < M; i++) s += (double)w[(size_t)i * ld + col] * in[i];
    return s;
}

/* dW[i][col + k] += sum over the rows r of dout_r[i] in_r[k], rows r = first .. n-1 of the (n, M)
 * and (n, K) arrays, in_r read at row r - shift (the input of a row from the step before). */
static void weight_grad(float *dw, int ld, int col, const float *dout, int M, const float *in, int K, size_t first,
                        size_t n, size_t shift) {
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (size_t r = first; r < n; r++) s += (double)dout[r * M + i] * in[(r - shift) * K + k];
            ref_add(&dw[(size_t)i * ld + col + k], s);
        }
}

static void bias_grad(float *db, const float *dout, int M, size_t n) {
    for (int i = 0; i < M; i++) {
        double s = 0;
        for (size_t r = 0; r < n; r++) s += dout[r * M + i];
        ref_add(&db[i], s);
    }
}

/* Backward, from the last step to the first. At step t every later step has already sent its share
 * into the gradients of o_t (through its attention read d = sum a_j o_j, into do_) and of
 * hf_t = K o_t (into dhf), so the total gradient of o_t is do_t + K^T dhf_t, kept in do_. The
 * gradients of h_t and d_t also come from step t + 1's gates and mixed inputs, read from that step's
 * saved gradients; that of c_t is carried. The per-step gradients of the query, the gate
 * pre-activations and the mixed inputs are kept for the weight gradients, which are sums over every
 * (step, row) taken once in double at the end; the shares a later step sends into do_ and dhf, and
 * v's gradient, are added step by step.
 * scratch (cdz_attn_lstm_scratch_floats: T B (6H + C) + 5 B H + B L floats; this uses
 * T B (6H + C) + B H + 2 H): dhf, dy (T, B, H), dgates (T, B, 4H), dxp (T, B, C), the carried dc
 * (B, H), and one row's dd and dh (H each). */
void ref_attn_lstm_backward(float *dx, const cdz_attn_lstm_grads *g, float *scratch, float *do_, const float *o,
                            const cdz_attn_lstm_acts *A, const float *x, const cdz_attn_lstm_params *p, int T, int B,
                            int C, int H, int L) {
    CDZ_ASSERT(L > 0 && L <= CDZ_ATTN_MAX_LENGTH);
    const int CI = C + H, G = 4 * H;
    const size_t n = (size_t)T * B;
    float *dhf = scratch, *dy = dhf + n * H, *dgates = dy + n * H, *dxp = dgates + n * G;
    float *dc = dxp + n * C, *dd = dc + (size_t)B * H, *dh = dd + H;
    memset(dhf, 0, n * H * sizeof *dhf);
    memset(dc, 0, (size_t)B * H * sizeof *dc);
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            float *dout = ROW(do_, t, b, H), *dyt = ROW(dy, t, b, H), *dgt = ROW(dgates, t, b, G);
            float *dct = dc + (size_t)b * H;
            const float *at = ROW(A->a, t, b, L), *yt = ROW(A->y, t, b, H);
            /* o_t: its own gradient, plus what the features hf_t = K o_t received */
            for (int i = 0; i < H; i++) ref_add(&dout[i], col_dot(p->k, H, i, ROW(dhf, t, b, H), H));
            /* d_t: from o_t = [h ; d] w_o^T + b_o and from xp_{t+1} = [x ; d_t] w_in^T + b_in */
            for (int k = 0; k < H; k++) {
                double s = col_dot(p->w_o, 2 * H, H + k, dout, H);
                if (t + 1 < T) s += col_dot(p->w_in, CI, C + k, ROW(dxp, t + 1, b, C), C);
                dd[k] = (float)s;
            }
            /* the attention read: da_j = dd . o_j, de = a (da - a . da), through tanh into y, v, hf_j */
            double da[CDZ_ATTN_MAX_LENGTH], de[CDZ_ATTN_MAX_LENGTH], ada = 0;
            for (int j = 0; j < L; j++) {
                const float *oj = slot(o, t, j, b, B, H, L);
                da[j] = oj ? ref_dot(dd, oj, H) : 0.0;
                ada += (double)at[j] * da[j];
            }
            for (int j = 0; j < L; j++) {
                de[j] = at[j] * (da[j] - ada);
                float *doj = dslot(do_, t, j, b, B, H, L);
                if (doj)
                    for (int k = 0; k < H; k++) ref_add(&doj[k], (double)at[j] * dd[k]);
            }
            for (int k = 0; k < H; k++) {
                double sy = 0, sv = 0;
                for (int j = 0; j < L; j++) {
                    const float *hfj = slot(A->hf, t, j, b, B, H, L);
                    double z = tanh((hfj ? (double)hfj[k] : 0.0) + yt[k]), dpre = de[j] * p->v[k] * (1.0 - z * z);
                    sv += de[j] * z;
                    sy += dpre;
                    if (hfj) ref_add(dslot(dhf, t, j, b, B, H, L) + k, dpre);
                }
                dyt[k] = (float)sy;
                ref_add(&g->v[k], sv);
            }
            /* h_t: from o_t, from y_t = [c ; h] w_q^T + b_q, and from step t + 1's gates */
            for (int k = 0; k < H; k++) {
                double s = col_dot(p->w_o, 2 * H, k, dout, H) + col_dot(p->w_q, 2 * H, H + k, dyt, H);
                if (t + 1 < T) s += col_dot(p->w_hh, H, k, ROW(dgates, t + 1, b, G), G);
                dh[k] = (float)s;
            }
            /* c_t: carried from step t + 1, and from y_t */
            for (int k = 0; k < H; k++) ref_add(&dct[k], col_dot(p->w_q, 2 * H, k, dyt, H));
            ref_lstm_cell_backward(dgt, dct, dh, dct, ROW(A->gates, t, b, G), ROW(A->c, t, b, H),
                                   t ? ROW(A->c, t - 1, b, H) : NULL, 1, H);
            /* xp_t: from the gate pre-activations a = xp w_ih^T + h_{t-1} w_hh^T + b */
            float *dxpt = ROW(dxp, t, b, C);
            for (int i = 0; i < C; i++) dxpt[i] = (float)col_dot(p->w_ih, C, i, dgt, G);
        }
    /* the weight gradients, each a sum over every (step, row) */
    weight_grad(g->w_o, 2 * H, 0, do_, H, A->h, H, 0, n, 0);
    weight_grad(g->w_o, 2 * H, H, do_, H, A->d, H, 0, n, 0);
    bias_grad(g->b_o, do_, H, n);
    weight_grad(g->k, H, 0, dhf, H, o, H, 0, n, 0);
    weight_grad(g->w_q, 2 * H, 0, dy, H, A->c, H, 0, n, 0);
    weight_grad(g->w_q, 2 * H, H, dy, H, A->h, H, 0, n, 0);
    bias_grad(g->b_q, dy, H, n);
    weight_grad(g->w_ih, C, 0, dgates, G, A->xp, C, 0, n, 0);
    weight_grad(g->w_hh, H, 0, dgates, G, A->h, H, (size_t)B, n, (size_t)B); /* step 0 read h_{-1} = 0 */
    bias_grad(g->b, dgates, G, n);
    weight_grad(g->w_in, CI, 0, dxp, C, x, C, 0, n, 0);
    weight_grad(g->w_in, CI, C, dxp, C, A->d, H, (size_t)B, n, (size_t)B); /* step 0 read d_{-1} = 0 */
    bias_grad(g->b_in, dxp, C, n);
    if (dx)
        for (size_t r = 0; r < n; r++)
            for (int k = 0; k < C; k++) ref_add(&dx[r * C + k], col_dot(p->w_in, CI, k, dxp + r * C, C));
}

/* One step, row by row: h, c, d (B, H) and the slots (B, L, H) carried and updated in place. The
 * scratch holds one row's mixed inputs (C), gates (4H) and query (H): C + 5H floats of the
 * B (C + 6H + L) that nn.h sizes. */
void ref_attn_lstm_step(float *o, float *h, float *c, float *d, float *slots_o, float *slots_hf, float *scratch,
                        const float *x, const cdz_attn_lstm_params *p, int B, int C, int H, int L) {
    CDZ_ASSERT(L > 0 && L <= CDZ_ATTN_MAX_LENGTH);
    const int CI = C + H, G = 4 * H;
    float *xp = scratch, *g = xp + C, *y = g + G;
    for (int b = 0; b < B; b++) {
        float *hb = h + (size_t)b * H, *cb = c + (size_t)b * H, *db = d + (size_t)b * H, *ob = o + (size_t)b * H;
        float *so = slots_o + (size_t)b * L * H, *sh = slots_hf + (size_t)b * L * H;
        affine2(xp, p->b_in, C, p->w_in, CI, x + (size_t)b * C, C, p->w_in + C, CI, db, H);
        affine2(g, p->b, G, p->w_ih, C, xp, C, p->w_hh, H, hb, H);
        ref_lstm_cell_forward(hb, cb, g, cb, 1, H);
        affine2(y, p->b_q, H, p->w_q, 2 * H, cb, H, p->w_q + H, 2 * H, hb, H);
        /* zero slots (before the first step) read as the forward pass's empty ones: features K 0 = 0
         * and nothing added to d */
        const float *ro[CDZ_ATTN_MAX_LENGTH], *rh[CDZ_ATTN_MAX_LENGTH];
        float a[CDZ_ATTN_MAX_LENGTH];
        for (int j = 0; j < L; j++) ro[j] = so + (size_t)j * H, rh[j] = sh + (size_t)j * H;
        attend(db, a, y, ro, rh, p->v, H, L);
        affine2(ob, p->b_o, H, p->w_o, 2 * H, hb, H, p->w_o + H, 2 * H, db, H);
        /* the oldest slot leaves; the new output and its features come in last */
        memmove(so, so + H, (size_t)(L - 1) * H * sizeof *so);
        memmove(sh, sh + H, (size_t)(L - 1) * H * sizeof *sh);
        for (int k = 0; k < H; k++) so[(size_t)(L - 1) * H + k] = ob[k];
        for (int k = 0; k < H; k++) sh[(size_t)(L - 1) * H + k] = (float)ref_dot(p->k + (size_t)k * H, ob, H);
    }
}
