/* The LSTM layer, CPU reference: gates = x w_ih^T + b for all steps at once, then per step
 * + h_{t-1} w_hh^T; c_t = f c_{t-1} + i g; h_t = o tanh(c_t). Backward is backpropagation through
 * time over the saved gates and cell states. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void cdz_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H) {
    const int G = 4 * H;
    cdz_linear_forward(gates, x, w_ih, b, T * B, C, G); /* input part of every step in one product */
    for (int t = 0; t < T; t++) {
        float *gt = gates + (size_t)t * B * G;
        const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
        const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
        if (hp) nn_gemm_acc(0, 1, B, G, H, hp, w_hh, gt);
        for (int bi = 0; bi < B; bi++) {
            float *g = gt + (size_t)bi * G;
            float *ct = c + ((size_t)t * B + bi) * H, *ht = h + ((size_t)t * B + bi) * H;
            for (int k = 0; k < H; k++) {
                float i = sigmoid(g[k]), f = sigmoid(g[H + k]), gg = tanhf(g[2 * H + k]), o = sigmoid(g[3 * H + k]);
                g[k] = i, g[H + k] = f, g[2 * H + k] = gg, g[3 * H + k] = o;
                float prev = cp ? cp[(size_t)bi * H + k] : 0.0f;
                ct[k] = f * prev + i * gg;
                ht[k] = o * tanhf(ct[k]);
            }
        }
    }
}

void cdz_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H) {
    const int G = 4 * H;
    /* The gradients flowing back into step t from step t + 1 live after the gates' in the scratch. */
    float *dh_next = dgates + (size_t)T * B * G, *dc_next = dh_next + (size_t)B * H;
    size_t bh = (size_t)B * H * sizeof *dh_next;
    memset(dh_next, 0, bh);
    if (dc_T) memcpy(dc_next, dc_T, bh);
    else memset(dc_next, 0, bh);
    for (int t = T - 1; t >= 0; t--) {
        const float *gt = gates + (size_t)t * B * G;
        float *dgt = dgates + (size_t)t * B * G;
        const float *cp = t ? c + (size_t)(t - 1) * B * H : c0;
        for (int bi = 0; bi < B; bi++) {
            const float *g = gt + (size_t)bi * G;
            float *dg = dgt + (size_t)bi * G;
            const float *ct = c + ((size_t)t * B + bi) * H;
            for (int k = 0; k < H; k++) {
                size_t j = (size_t)bi * H + k;
                float i = g[k], f = g[H + k], gg = g[2 * H + k], o = g[3 * H + k];
                float tc = tanhf(ct[k]);
                float dht = dh[(size_t)t * B * H + j] + dh_next[j];
                float dct = dc_next[j] + dht * o * (1 - tc * tc);
                float prev = cp ? cp[j] : 0.0f;
                dg[k] = dct * gg * i * (1 - i);
                dg[H + k] = dct * prev * f * (1 - f);
                dg[2 * H + k] = dct * i * (1 - gg * gg);
                dg[3 * H + k] = dht * tc * o * (1 - o);
                dc_next[j] = dct * f;
            }
        }
        /* into h_{t-1}: dgates_t @ w_hh; into w_hh: dgates_t^T @ h_{t-1} */
        memset(dh_next, 0, bh);
        nn_gemm_acc(0, 0, B, H, G, dgt, w_hh, dh_next);
        const float *hp = t ? h + (size_t)(t - 1) * B * H : h0;
        if (hp) nn_gemm_acc(1, 0, G, H, B, dgt, hp, dw_hh);
    }
    if (dh0)
        for (int j = 0; j < B * H; j++) dh0[j] += dh_next[j];
    if (dc0)
        for (int j = 0; j < B * H; j++) dc0[j] += dc_next[j];
    /* the input part of all steps at once */
    if (dx) nn_gemm_acc(0, 0, T * B, C, G, dgates, w_ih, dx);
    nn_gemm_acc(1, 0, G, C, T * B, dgates, x, dw_ih);
    if (db)
        for (size_t r = 0; r < (size_t)T * B; r++)
            for (int k = 0; k < G; k++) db[k] += dgates[r * G + k];
}
