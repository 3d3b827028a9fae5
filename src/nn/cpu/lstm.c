/* The LSTM layer, CPU reference: gates = x w_ih^T + b for all steps at once, then per step
 * + h_{t-1} w_hh^T; c_t = f c_{t-1} + i g; h_t = o tanh(c_t) (PyTorch's gate order i, f, g, o).
 * Backward is backpropagation through time over the saved gates and cell states. The per-step cell
 * functions are public so that the attention wrapper and step-wise generation share them. */
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

NN_CLONES void cdz_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H) {
    const int G = 4 * H;
    for (int bi = 0; bi < B; bi++) {
        float *g = gates + (size_t)bi * G, *cb = c + (size_t)bi * H, *hb = h + (size_t)bi * H;
        /* no previous state reads as zeros: a zero row keeps the loop free of branches */
        static const float zeros[CDZ_LSTM_MAX_WIDTH];
        const float *pb = c_prev ? c_prev + (size_t)bi * H : zeros;
#pragma omp simd
        for (int k = 0; k < H; k++) {
            float i = nn_sigmoid(g[k]), f = nn_sigmoid(g[H + k]), gg = nn_tanh(g[2 * H + k]), o = nn_sigmoid(g[3 * H + k]);
            g[k] = i, g[H + k] = f, g[2 * H + k] = gg, g[3 * H + k] = o;
            float ct = f * pb[k] + i * gg;
            cb[k] = ct;
            hb[k] = o * nn_tanh(ct);
        }
    }
}

NN_CLONES void cdz_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                            const float *c, const float *c_prev, int B, int H) {
    const int G = 4 * H;
    for (int bi = 0; bi < B; bi++) {
        const float *g = gates + (size_t)bi * G, *cb = c + (size_t)bi * H, *dhb = dh + (size_t)bi * H;
        static const float zeros[CDZ_LSTM_MAX_WIDTH];
        const float *dcb = dc + (size_t)bi * H, *pb = c_prev ? c_prev + (size_t)bi * H : zeros;
        float *dg = dgates + (size_t)bi * G, *dpb = dc_prev + (size_t)bi * H;
#pragma omp simd
        for (int k = 0; k < H; k++) {
            float i = g[k], f = g[H + k], gg = g[2 * H + k], o = g[3 * H + k];
            float tc = nn_tanh(cb[k]);
            float dct = dcb[k] + dhb[k] * o * (1 - tc * tc);
            dg[k] = dct * gg * i * (1 - i);
            dg[H + k] = dct * pb[k] * f * (1 - f);
            dg[2 * H + k] = dct * i * (1 - gg * gg);
            dg[3 * H + k] = dhb[k] * tc * o * (1 - o);
            dpb[k] = dct * f;
        }
    }
}

void cdz_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H) {
    const int G = 4 * H;
    cdz_linear_forward(gates, x, w_ih, b, T * B, C, G); /* input part of every step in one product */
    for (int t = 0; t < T; t++) {
        float *gt = gates + (size_t)t * B * G;
        const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
        const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
        if (hp) nn_gemm_acc(0, 1, B, G, H, hp, w_hh, gt);
        cdz_lstm_cell_forward(h + (size_t)t * B * H, c + (size_t)t * B * H, gt, cp, B, H);
    }
}

void cdz_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H) {
    const int G = 4 * H;
    /* The gradients flowing back into step t from step t + 1 live after the gates' in the scratch. */
    float *dh_next = dgates + (size_t)T * B * G, *dc_next = dh_next + (size_t)B * H;
    size_t bh = (size_t)B * H;
    memset(dh_next, 0, bh * sizeof *dh_next);
    if (dc_T) memcpy(dc_next, dc_T, bh * sizeof *dc_next);
    else memset(dc_next, 0, bh * sizeof *dc_next);
    for (int t = T - 1; t >= 0; t--) {
        float *dgt = dgates + (size_t)t * B * G;
        const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
        /* dh_t = the output's gradient + what step t + 1 sent back (kept in dh_next) */
        const float *dht = dh + (size_t)t * bh;
        for (size_t j = 0; j < bh; j++) dh_next[j] += dht[j];
        cdz_lstm_cell_backward(dgt, dc_next, dh_next, dc_next, gates + (size_t)t * B * G, c + (size_t)t * bh, cp, B, H);
        /* into h_{t-1}: dgates_t @ w_hh; into w_hh: dgates_t^T @ h_{t-1} */
        memset(dh_next, 0, bh * sizeof *dh_next);
        nn_gemm_acc(0, 0, B, H, G, dgt, w_hh, dh_next);
    }
    if (dh0)
        for (size_t j = 0; j < bh; j++) dh0[j] += dh_next[j];
    if (dc0)
        for (size_t j = 0; j < bh; j++) dc0[j] += dc_next[j];
    /* the recurrent weights over steps 1..T-1 (h_{-1} = h0 for step 0), and the inputs, in whole products */
    if (T > 1) nn_gemm_acc(1, 0, G, H, (T - 1) * B, dgates + (size_t)B * G, h, dw_hh);
    if (h0) nn_gemm_acc(1, 0, G, H, B, dgates, h0, dw_hh);
    if (dx) nn_gemm_acc(0, 0, T * B, C, G, dgates, w_ih, dx);
    nn_gemm_acc(1, 0, G, C, T * B, dgates, x, dw_ih);
    if (db)
        for (size_t r = 0; r < (size_t)T * B; r++)
            for (int k = 0; k < G; k++) db[k] += dgates[r * G + k];
}

void cdz_lstm_step(float *h, float *c, float *gates, const float *x, const float *w_ih, const float *w_hh, const float *b,
                   int B, int C, int H) {
    cdz_linear_forward(gates, x, w_ih, b, B, C, 4 * H);
    nn_gemm_acc(0, 1, B, 4 * H, H, h, w_hh, gates);
    cdz_lstm_cell_forward(h, c, gates, c, B, H); /* in place: each element reads c before writing it */
}
